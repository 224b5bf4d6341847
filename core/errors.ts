/**
 * Errors by audience. A UserError is the repository owner's to fix (a failing Dockerfile, an app
 * that never answers): it is shown on the check run and never retried. Anything else is treated as
 * infrastructure trouble and retried by the queue.
 */
export class UserError extends Error {
  override readonly name = "UserError";

  /** @param detail extra text for the check run output, such as a log tail */
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** A deployment was superseded or cancelled while it ran; not a failure of anybody's. */
export class CancelledError extends Error {
  override readonly name = "CancelledError";
}

/** A configuration problem found at start; the message names the variable to set. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A command that exited non-zero, keeping argv, exit code and output for the log. */
export class ExecError extends Error {
  override readonly name = "ExecError";

  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${argv.join(" ")} exited with ${exitCode ?? "a signal"}: ${lastLines(stderr || stdout, 5)}`);
  }
}

/** The last n non-empty lines of a text. */
export function lastLines(text: string, n: number): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.slice(-n).join("\n");
}
