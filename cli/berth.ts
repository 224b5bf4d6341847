#!/usr/bin/env node
/**
 * berth's command line, a thin client of the REST API. Reads BERTH_PUBLIC_URL (default
 * http://localhost:3000) and BERTH_API_TOKEN from the environment.
 *
 *   berth apps
 *   berth apps set <app> build-concurrency=<N|default>
 *   berth deployments <app>
 *   berth rollback <app> [deployment-id]   (default: the release before the live one)
 *   berth redeploy <app> [--env production|pr-<N>] [--sha <commit>]
 *   berth cancel <deployment-id>
 *   berth logs <app> [-f] [--env production|pr-<N>] [--process <name>] [--tail <N>]
 *   berth secrets list <app>
 *   berth secrets set <app> <NAME> [value] [--previews]   (without value: read from stdin, so it stays out of shell history)
 *   berth secrets rm <app> <NAME> [--previews]
 *   berth servers add <name> --docker tcp://HOST:2376 --tls-dir DIR [--label key=value]...
 *   berth servers list
 *   berth servers remove <name>
 *
 * --previews sets the value previews get instead of production's; it is the only value previews of
 * forks and bots ever get.
 */
import { readFileSync } from "node:fs";
import { SERVERS_USAGE, serversCommand } from "./servers-command.js";
import { DEPLOY_USAGE, deployCommands } from "./deploy-commands.js";
import { LOGS_USAGE, logsCommand } from "./logs-command.js";

const USAGE = `usage:
  berth apps
  berth apps set <app> build-concurrency=<N|default>
  berth deployments <app>
  berth rollback <app> [deployment-id]
${DEPLOY_USAGE}
${LOGS_USAGE}
  berth secrets list <app>
  berth secrets set <app> <NAME> [value] [--previews]   (value read from stdin when omitted)
  berth secrets rm <app> <NAME> [--previews]
${SERVERS_USAGE}
--previews: the value previews get instead of production's (the only one fork and bot previews get)`;

export async function run(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void): Promise<number> {
  const base = (env.BERTH_PUBLIC_URL || `http://localhost:${env.PORT || 3000}`).replace(/\/+$/, "");
  const token = env.BERTH_API_TOKEN;
  if (!token) {
    out("berth: set BERTH_API_TOKEN to the server's admin token");
    return 2;
  }
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(text ? ((JSON.parse(text) as { error?: string }).error ?? text) : `HTTP ${res.status}`);
    return text ? JSON.parse(text) : undefined;
  };
  // Commands with their own modules: each returns an exit code, or undefined for arguments it does not take.
  const command =
    argv[0] === "servers" ? () => serversCommand(argv.slice(1), call, out)
    : argv[0] === "redeploy" || argv[0] === "cancel" ? () => deployCommands(argv, call, out)
    : argv[0] === "logs" ? () => logsCommand(argv.slice(1), { base, token, out, err: out })
    : undefined;
  if (command) {
    try {
      const code = await command();
      if (code !== undefined) return code;
    } catch (e) {
      out(`berth: ${(e as Error).message}`);
      return 1;
    }
    out(USAGE);
    return 2;
  }
  // --previews may stand anywhere; the rest are positional.
  const previews = argv.includes("--previews");
  const [cmd, sub, a, b, c] = argv.filter((x) => x !== "--previews");
  try {
    if (cmd === "apps" && sub === "set" && a && b) {
      const m = /^build-concurrency=(\d+|default)$/.exec(b);
      if (!m) {
        out("berth: expected build-concurrency=<N> (1-64) or build-concurrency=default");
        return 2;
      }
      const app = (await call("PATCH", `/apps/${a}`, { buildConcurrency: m[1] === "default" ? null : Number(m[1]) })) as { buildConcurrency: number | null };
      out(`${a}: build concurrency ${app.buildConcurrency ?? "default (BERTH_APP_BUILD_CONCURRENCY)"}`);
      return 0;
    }
    if (cmd === "apps" && !sub) {
      for (const app of (await call("GET", "/apps")) as { name: string; repository: string }[]) out(`${app.name}\t${app.repository}`);
      return 0;
    }
    if (cmd === "deployments" && sub) {
      for (const d of (await call("GET", `/apps/${sub}/deployments`)) as { id: number; environment: string; sha: string; state: string; url: string | null }[]) {
        out(`${d.id}\t${d.environment}\t${d.sha.slice(0, 7)}\t${d.state}\t${d.url ?? ""}`);
      }
      return 0;
    }
    if (cmd === "rollback" && sub) {
      if (a !== undefined && !/^\d+$/.test(a)) {
        out("berth: expected a deployment id (berth deployments <app> lists them)");
        return 2;
      }
      const d = (await call("POST", `/apps/${sub}/rollback`, a ? { deployment: Number(a) } : undefined)) as { id: number; sha: string; rollbackOf: number };
      out(`rolling back ${sub} to ${d.sha.slice(0, 7)} (deployment ${d.rollbackOf}) as deployment ${d.id}; berth deployments ${sub} shows when it is live`);
      return 0;
    }
    if (cmd === "secrets" && sub === "list" && a) {
      for (const s of (await call("GET", `/apps/${a}/secrets`)) as { name: string; scopes: string[]; updatedAt: string }[]) out(`${s.name}\t${s.scopes.join(",")}\t${s.updatedAt}`);
      return 0;
    }
    if (cmd === "secrets" && sub === "set" && a && b) {
      const value = c ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
      await call("PUT", `/apps/${a}/secrets/${encodeURIComponent(b)}${previews ? "?scope=previews" : ""}`, { value });
      out(`set ${b} for ${a}${previews ? " (previews)" : ""}`);
      return 0;
    }
    if (cmd === "secrets" && sub === "rm" && a && b) {
      await call("DELETE", `/apps/${a}/secrets/${encodeURIComponent(b)}${previews ? "?scope=previews" : ""}`);
      out(`removed ${b} from ${a}${previews ? " (previews)" : ""}`);
      return 0;
    }
  } catch (e) {
    out(`berth: ${(e as Error).message}`);
    return 1;
  }
  out(USAGE);
  return 2;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  run(process.argv.slice(2), process.env, (s) => process.stdout.write(`${s}\n`)).then((code) => process.exit(code));
}
