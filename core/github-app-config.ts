import { readFileSync } from "node:fs";
import { Sensitive } from "./sensitive.js";

type Env = Record<string, string | undefined>;

export interface GitHubAppConfig {
  appId: string;
  privateKey: Sensitive;
  webhookSecret: Sensitive;
}

/** The App's OAuth client, for the dashboard's Log in with GitHub. */
export interface OAuthClient {
  clientId: string;
  clientSecret: Sensitive;
}

/** The file in BERTH_DATA_DIR where /setup keeps the App it registered. */
export const APP_FILE = "github-app.env";

const APP_KEYS = new Set(["APP_ID", "WEBHOOK_SECRET", "PRIVATE_KEY", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"]);

/**
 * The App credentials /setup wrote (KEY=value lines, PRIVATE_KEY quoted with \n escapes), unless the
 * environment already names an App; nothing when the file is absent.
 */
export function readAppFile(path: string, env: Env): Env {
  if (env.APP_ID || env.PRIVATE_KEY || env.PRIVATE_KEY_PATH || env.WEBHOOK_SECRET) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  const out: Env = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m && APP_KEYS.has(m[1]!)) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1");
  }
  return out;
}

/** The GitHub App's credentials from the environment; problems are pushed for a half-configured App. */
export function readGitHub(env: Env, problems: string[]): GitHubAppConfig | undefined {
  const { APP_ID, PRIVATE_KEY, PRIVATE_KEY_PATH, WEBHOOK_SECRET } = env;
  if (!APP_ID && !PRIVATE_KEY && !PRIVATE_KEY_PATH && !WEBHOOK_SECRET) return undefined;
  if (!APP_ID || !/^\d+$/.test(APP_ID)) problems.push("APP_ID: expected the GitHub App's numeric id (App settings → About)");
  let key = PRIVATE_KEY;
  if (!key && PRIVATE_KEY_PATH) {
    try {
      key = readFileSync(PRIVATE_KEY_PATH, "utf8");
    } catch (e) {
      problems.push(`PRIVATE_KEY_PATH=${PRIVATE_KEY_PATH}: cannot read the file (${(e as NodeJS.ErrnoException).code})`);
    }
  }
  if (!key && !PRIVATE_KEY_PATH) problems.push("PRIVATE_KEY or PRIVATE_KEY_PATH: set the GitHub App's private key (PEM)");
  else if (key && !key.includes("PRIVATE KEY")) problems.push("PRIVATE_KEY: expected a PEM private key (-----BEGIN RSA PRIVATE KEY-----)");
  if (!WEBHOOK_SECRET) problems.push("WEBHOOK_SECRET: set the GitHub App's webhook secret; berth refuses unsigned webhooks");
  return { appId: APP_ID ?? "", privateKey: new Sensitive((key ?? "").replace(/\\n/g, "\n")), webhookSecret: new Sensitive(WEBHOOK_SECRET ?? "") };
}

/** The App's OAuth client (GITHUB_CLIENT_ID/SECRET), for the dashboard's Log in with GitHub. */
export function readOAuth(env: Env, problems: string[]): OAuthClient | undefined {
  const { GITHUB_CLIENT_ID: id, GITHUB_CLIENT_SECRET: secret } = env;
  if (!id && !secret) return undefined;
  if (!id || !/^[\w.-]{1,100}$/.test(id)) problems.push("GITHUB_CLIENT_ID: expected the GitHub App's client id (App settings → About → Client ID)");
  if (!secret) problems.push("GITHUB_CLIENT_SECRET: set the GitHub App's client secret (App settings → Client secrets), or unset GITHUB_CLIENT_ID");
  return { clientId: id ?? "", clientSecret: new Sensitive(secret ?? "") };
}
