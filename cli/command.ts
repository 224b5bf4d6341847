import { parseArgs, type ParseArgsConfig } from "node:util";

/** An API call as the CLI makes it: the parsed JSON answer, or an Error with the API's message. */
export type ApiCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

/** What a command gets: its parsed flags and positionals, the API, and where its output goes. */
export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  args: string[];
  call: ApiCall;
  /** A streaming GET (logs --follow): the response, for the caller to read line by line. */
  stream: (path: string) => Promise<Response>;
  /** A WebSocket to an API path (exec), authenticated like the calls. */
  socket: (path: string) => import("ws").WebSocket;
  out: (line: string) => void;
  /** --json: print the API's answer as JSON instead of text. */
  json: boolean;
  env: Record<string, string | undefined>;
  /** Reads a secret value from stdin (piped), or asks for it without echo on a terminal. */
  readSecret: (prompt: string) => Promise<string>;
}

/** A usage mistake: the command's help is printed and berth exits with 2. */
export class UsageError extends Error {}

export interface Command {
  /** The words that name it: `secrets set`. */
  name: string;
  /** Its arguments and flags, as help shows them. */
  usage: string;
  summary: string;
  /** Help beyond the summary: what flags mean, what it prints. */
  help?: string;
  options?: ParseArgsConfig["options"];
  /** How many positionals it takes. */
  positionals: [min: number, max: number];
  /** Exit code: 0, or 1 when the API refused (the caller prints the error). */
  run(ctx: CommandContext): Promise<number>;
}

const GLOBAL_OPTIONS = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

/** The command argv names (the longest match of its first words), or undefined. */
export function findCommand(commands: readonly Command[], argv: readonly string[]): Command | undefined {
  const words = argv.filter((a) => !a.startsWith("-"));
  return [...commands].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length).find((c) => c.name.split(" ").every((w, i) => words[i] === w));
}

/** Parses a command's flags and positionals (the words of its name removed); a UsageError when they do not fit. */
export function parseCommand(command: Command, argv: readonly string[]): { values: CommandContext["values"]; args: string[] } {
  const rest = [...argv];
  for (const word of command.name.split(" ")) rest.splice(rest.indexOf(word), 1);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const [min, max] = command.positionals;
  if (!parsed.values.help && (parsed.positionals.length < min || parsed.positionals.length > max)) {
    throw new UsageError(`expected ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? "" : "s"}: berth ${command.name} ${command.usage}`);
  }
  return { values: parsed.values as CommandContext["values"], args: parsed.positionals };
}

/** `berth <name> --help`. */
export function commandHelp(c: Command): string {
  return [`usage: berth ${c.name}${c.usage ? ` ${c.usage}` : ""} [--json]`, "", c.summary, ...(c.help ? ["", c.help] : [])].join("\n");
}

/** `berth --help`: every command with its summary. */
export function overallHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: berth <command> [arguments] [--json] [--help]",
    "",
    "berth's command line, a client of its API. Reads BERTH_PUBLIC_URL and BERTH_API_TOKEN (or what `berth login` saved).",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "berth <command> --help tells more; --json prints the API's answer as JSON.",
  ].join("\n");
}

/** Prints the API's answer as JSON under --json, else as the command's text. */
export function printed(ctx: CommandContext, answer: unknown, text: () => void): number {
  if (ctx.json) ctx.out(JSON.stringify(answer, null, 2));
  else text();
  return 0;
}
