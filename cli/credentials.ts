import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Command } from "./command.js";
import { UsageError } from "./command.js";
import { deviceLogin } from "./device-login.js";

/** Where `berth login` keeps the server's URL and a token: only the user can read it. */
export function credentialsFile(env: Record<string, string | undefined>): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "berth", "credentials.json");
}

/** The server and token to use: BERTH_PUBLIC_URL and BERTH_API_TOKEN first, else what `berth login` saved. */
export function credentials(env: Record<string, string | undefined>): { url: string; token?: string } {
  let saved: { url?: string; token?: string } = {};
  try {
    saved = JSON.parse(readFileSync(credentialsFile(env), "utf8")) as typeof saved;
  } catch {
    /* not logged in */
  }
  const url = (env.BERTH_PUBLIC_URL || saved.url || `http://localhost:${env.PORT || 3000}`).replace(/\/+$/, "");
  return { url, token: env.BERTH_API_TOKEN || saved.token };
}

/** `berth login`: checks a token against the server and saves both for later commands. */
export const LOGIN_COMMAND: Command = {
  name: "login",
  usage: "[--url https://berth.example.com] [--github]",
  summary: "Save the server's URL and an API token (read from stdin, asked for, or from a GitHub login) for later commands.",
  help: "The token is the admin token (BERTH_API_TOKEN) or your own one from the dashboard's Tokens page; it is checked against the server first. With --github, log in with GitHub instead: berth prints a code to enter on GitHub and receives a token of your own, with your GitHub permissions. Saved in ~/.config/berth/credentials.json, readable only by you.",
  options: { url: { type: "string" }, github: { type: "boolean" } },
  positionals: [0, 0],
  run: async (ctx) => {
    const url = ((ctx.values.url as string | undefined) ?? credentials(ctx.env).url).replace(/\/+$/, "");
    if (!/^https?:\/\/[^\s/]+$/.test(url)) throw new UsageError(`--url expects the server's address, such as https://berth.example.com; got ${url}`);
    let token: string;
    if (ctx.values.github) {
      const got = await deviceLogin(url, (c) => ctx.out(ctx.json ? JSON.stringify(c) : `Open ${c.verificationUri} and enter the code ${c.userCode}`));
      if (!ctx.json) ctx.out(`GitHub says you are ${got.login}`);
      token = got.token;
    } else {
      token = (await ctx.readSecret(`API token for ${url}: `)).trim();
      if (!token) throw new UsageError("no token given");
    }
    const res = await fetch(`${url}/api/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) {
      ctx.out(`berth: ${url} refused the token (HTTP ${res.status})`);
      return 1;
    }
    const file = credentialsFile(ctx.env);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify({ url, token }), { mode: 0o600 });
    chmodSync(file, 0o600);
    ctx.out(ctx.json ? JSON.stringify({ url, saved: file }) : `logged in to ${url} (saved in ${file})`);
    return 0;
  },
};
