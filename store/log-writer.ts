import type { Db } from "./db.js";
import { appendBuildLog } from "./queries.js";
import type { RedactionStream, Redactor } from "../core/redactor.js";

/**
 * Buffers a deployment's log and writes it to Postgres in chunks (every flushMs or maxBytes), so a
 * chatty build costs a few inserts a second, not one per line, and readers see it while it runs.
 */
export class LogWriter {
  #redactor: Redactor | undefined;
  #mask: RedactionStream | undefined;
  #buffer = "";
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void> = Promise.resolve();
  #tail = "";

  constructor(
    private readonly db: Db,
    private readonly deploymentId: number,
    private readonly flushMs = 250,
    private readonly maxBytes = 16_384,
  ) {}

  /** From now on, every secret value this redactor knows is masked before the log is kept or shown. */
  redactWith(redactor: Redactor): this {
    this.#redactor = redactor;
    if (!redactor.empty) this.#mask = redactor.stream();
    return this;
  }

  /** A text about this deployment masked like its log, for what is reported elsewhere (check runs, comments). */
  redact(text: string): string {
    return this.#redactor ? this.#redactor.redact(text) : text;
  }

  /** Appends text; never throws (a log write must not fail a build). */
  write = (raw: string): void => {
    this.#append(this.#mask ? this.#mask.push(raw) : raw);
  };

  #append(text: string): void {
    if (!text) return;
    this.#buffer += text;
    this.#tail = (this.#tail + text).slice(-16_000);
    if (this.#buffer.length >= this.maxBytes) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** A line of berth's own, marked so it stands out from the build's output, with the wall-clock time. */
  note(line: string): void {
    this.write(`==> ${new Date().toISOString().slice(11, 23)} ${line}\n`);
  }

  /** The last characters written, for check-run output. */
  tail(): string {
    return this.#tail;
  }

  /** The log is complete: what the redactor held back (a possible secret's beginning) is written, masked, and all is flushed. */
  end(): Promise<void> {
    this.#append(this.#mask?.end() ?? "");
    return this.flush();
  }

  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const chunk = this.#buffer;
    this.#buffer = "";
    if (chunk) {
      this.#pending = this.#pending.then(() => appendBuildLog(this.db, this.deploymentId, chunk)).catch(() => undefined);
    }
    return this.#pending;
  }
}
