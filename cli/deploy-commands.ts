import { parseArgs } from "node:util";
import type { ApiCall } from "./servers-command.js";

export const DEPLOY_USAGE = `  berth redeploy <app> [--env production|pr-<N>] [--sha <commit>]   (default: the commit the environment runs)
  berth cancel <deployment-id>
  berth move <app> <server> [--env production|pr-<N>]   (releases it there; refused when volumes hold data)`;

/** `berth redeploy …`, `berth cancel …` and `berth move …`: the exit code, or undefined when the arguments match none. */
export async function deployCommands(argv: string[], call: ApiCall, out: (s: string) => void): Promise<number | undefined> {
  const [cmd] = argv;
  if (cmd !== "redeploy" && cmd !== "cancel" && cmd !== "move") return undefined;
  const { values, positionals } = parseArgs({ args: argv.slice(1), options: { env: { type: "string" }, sha: { type: "string" } }, allowPositionals: true, strict: true });
  if (cmd === "cancel") {
    if (positionals.length !== 1 || !/^\d+$/.test(positionals[0]!) || values.env || values.sha) return undefined;
    const d = (await call("POST", `/deployments/${positionals[0]}/cancel`)) as { id: number; sha: string; environment: string };
    out(`cancelled deployment ${d.id} (${d.environment} ${d.sha.slice(0, 7)})`);
    return 0;
  }
  if (cmd === "move") {
    if (positionals.length !== 2 || values.sha) return undefined;
    const [app, server] = positionals as [string, string];
    const r = (await call("POST", `/apps/${app}/move`, { server, environment: values.env ?? "production" })) as { environment: string; from: string | null; to: string; deployment: { id: number } | null };
    out(r.deployment ? `moving ${app} ${r.environment} from ${r.from} to ${r.to} as deployment ${r.deployment.id}; berth deployments ${app} shows when it is live` : `${app} ${r.environment} runs nothing yet: its next release starts on ${r.to}`);
    return 0;
  }
  if (positionals.length !== 1) return undefined;
  const app = positionals[0]!;
  const d = (await call("POST", `/apps/${app}/deployments`, { environment: values.env ?? "production", ...(values.sha ? { sha: values.sha } : {}) })) as { id: number; sha: string; environment: string };
  out(`redeploying ${app} ${d.environment} at ${d.sha.slice(0, 7)} as deployment ${d.id}; berth deployments ${app} shows when it is live`);
  return 0;
}
