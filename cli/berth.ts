#!/usr/bin/env node
/**
 * berth's command line, a thin client of the REST API (`berth --help` lists the commands, `berth
 * <command> --help` explains one, `--json` prints the API's answers). Reads BERTH_PUBLIC_URL and
 * BERTH_API_TOKEN from the environment, or what `berth login` saved.
 */
import { readFileSync } from "node:fs";
import { APP_COMMANDS } from "./app-commands.js";
import { commandHelp, findCommand, overallHelp, parseCommand, UsageError, type Command, type CommandContext } from "./command.js";
import { credentials, LOGIN_COMMAND } from "./credentials.js";
import { DEPLOY_COMMANDS } from "./deploy-commands.js";
import { EXEC_COMMAND } from "./exec-command.js";
import { WebSocket } from "ws";
import { readSecret } from "./prompt.js";
import { SERVER_COMMANDS } from "./servers-command.js";
import { TOKEN_COMMANDS } from "./token-commands.js";

export const COMMANDS: Command[] = [...APP_COMMANDS, ...DEPLOY_COMMANDS, ...SERVER_COMMANDS, ...TOKEN_COMMANDS, EXEC_COMMAND, LOGIN_COMMAND];

/** Runs one command line; the exit code: 0, 1 when the server refused, 2 for a usage mistake. */
export async function run(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void, stdin: () => string = () => readFileSync(0, "utf8")): Promise<number> {
  if (argv.length === 0 || (argv.length === 1 && ["help", "--help", "-h"].includes(argv[0]!))) {
    out(overallHelp(COMMANDS));
    return argv.length === 0 ? 2 : 0;
  }
  const command = findCommand(COMMANDS, argv);
  if (!command) {
    out(`berth: unknown command ${argv.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ")}`);
    out(overallHelp(COMMANDS));
    return 2;
  }
  const { url, token } = credentials(env);
  const authorization = { authorization: `Bearer ${token}` };
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}/api/v1${path}`, { method, headers: { ...authorization, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    if (!res.ok) throw new Error(text ? (safeJson(text)?.error ?? text) : `HTTP ${res.status}`);
    return text ? JSON.parse(text) : undefined;
  };
  const stream = async (path: string): Promise<Response> => {
    const res = await fetch(`${url}/api/v1${path}`, { headers: authorization });
    if (!res.ok) throw new Error(safeJson(await res.text())?.error ?? `HTTP ${res.status}`);
    return res;
  };
  const socket = (path: string): WebSocket => new WebSocket(`${url.replace(/^http/, "ws")}/api/v1${path}`, { headers: authorization });
  try {
    const { values, args } = parseCommand(command, argv);
    if (values.help) {
      out(commandHelp(command));
      return 0;
    }
    if (!token && command !== LOGIN_COMMAND) {
      out("berth: set BERTH_API_TOKEN to the server's admin token, or run berth login");
      return 2;
    }
    const ctx: CommandContext = { values, args, call, stream, socket, out, json: values.json === true, env, readSecret: (prompt) => readSecret(prompt, stdin) };
    return await command.run(ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      out(`berth: ${e.message}`);
      out(commandHelp(command));
      return 2;
    }
    out(`berth: ${(e as Error).message}`);
    return 1;
  }
}

function safeJson(text: string): { error?: string } | undefined {
  try {
    return JSON.parse(text) as { error?: string };
  } catch {
    return undefined;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  run(process.argv.slice(2), process.env, (s) => process.stdout.write(`${s}\n`)).then((code) => process.exit(code));
}
