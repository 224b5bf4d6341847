import type { RedactionStream, Redactor } from "../core/redactor.js";
import { TextTail } from "../core/text-tail.js";
import type { Db } from "./db.js";
import { appendBuildLog } from "./queries.js";

export interface LogWriterOptions {
  /** A chunk is written at most this long after its first text. */
  flushMs?: number;
  /** ... or as soon as it holds this many characters. */
  chunkChars?: number;
  /** Characters one writer keeps in all: its head as it comes, then its tail. */
  limitChars?: number;
  /** Of the limit, how much is kept from the end once the head is full. */
  tailChars?: number;
}

/** The default cap of one deployment's build log, and of its release log. */
export const LOG_LIMIT_CHARS = 5 * 1024 * 1024;
const TAIL_CHARS = 1024 * 1024;

function size(chars: number): string {
  if (chars >= 1024 * 1024) return `${Math.round((chars / 1024 / 1024) * 10) / 10} MiB`;
  return chars >= 1024 ? `${Math.round((chars / 1024) * 10) / 10} KiB` : `${chars} characters`;
}

/**
 * Buffers a deployment's log and writes it in chunks (every flushMs or chunkChars), so a chatty build
 * costs a few inserts a second, not one per line, and readers see it while it runs. A build controls
 * how much it prints, so a writer keeps at most limitChars: the head as it comes, then only the latest
 * tailChars in memory, written with a note of what was cut when flush() is called (at the end of a step).
 */
export class LogWriter {
  #redactor: Redactor | undefined;
  #mask: RedactionStream | undefined;
  #buffer = "";
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void> = Promise.resolve();
  #tail = "";
  readonly #flushMs: number;
  readonly #chunkChars: number;
  readonly #limit: number;
  readonly #headChars: number;
  /** Room left for the head, as it comes. */
  #headRoom: number;
  /** Text past the head, held until flush; its max is the room left for tails. */
  readonly #kept: TextTail;
  #overflowed = false;

  constructor(
    private readonly append: (chunk: string) => Promise<void>,
    options: LogWriterOptions = {},
  ) {
    this.#flushMs = options.flushMs ?? 250;
    this.#chunkChars = options.chunkChars ?? 16_384;
    this.#limit = options.limitChars ?? LOG_LIMIT_CHARS;
    this.#kept = new TextTail(Math.min(options.tailChars ?? TAIL_CHARS, this.#limit));
    this.#headChars = this.#limit - this.#kept.max;
    this.#headRoom = this.#headChars;
  }

  /** The writer of one deployment's log in Postgres. */
  static forDeployment(db: Db, deploymentId: number, options?: LogWriterOptions): LogWriter {
    return new LogWriter((chunk) => appendBuildLog(db, deploymentId, chunk), options);
  }

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
    this.#tail = (this.#tail + text).slice(-16_000);
    const head = text.slice(0, this.#headRoom);
    const rest = text.slice(head.length);
    this.#headRoom -= head.length;
    this.#buffer += head;
    if (rest && !this.#overflowed) {
      this.#overflowed = true;
      this.#buffer += `\n==> this log passed ${size(this.#headChars)}; berth keeps only its last ${size(this.#kept.max)} from here, written when the step ends\n`;
    }
    if (rest) this.#kept.push(rest);
    if (this.#buffer.length >= this.#chunkChars) void this.#write();
    else if (this.#buffer) this.#timer ??= setTimeout(() => void this.#write(), this.#flushMs);
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

  /** Writes everything held so far, saying how much was cut before the kept tail; resolves once written. */
  flush(): Promise<void> {
    if (this.#kept.dropped > 0) this.#buffer += `\n==> ${this.#kept.dropped} characters of this log were cut here (a log keeps ${size(this.#limit)})\n`;
    this.#kept.max -= this.#kept.length;
    this.#buffer += this.#kept.take();
    return this.#write();
  }

  #write(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const chunk = this.#buffer;
    this.#buffer = "";
    if (chunk) this.#pending = this.#pending.then(() => this.append(chunk)).catch(() => undefined);
    return this.#pending;
  }
}
