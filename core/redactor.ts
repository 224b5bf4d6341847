import type { Sensitive } from "./sensitive.js";

const MASK = "[redacted]";
// Very short values would mask ordinary text everywhere and hide nothing worth hiding.
const MIN_LENGTH = 4;

/**
 * The one redactor every text leaving berth passes through (logs, check runs, comments, pages):
 * it masks each value of every secret a deployment could see. A multi-line value (a PEM key, an
 * .npmrc) is masked whole and line by line, since tools print it a line at a time behind prefixes.
 */
export class Redactor {
  readonly #values: string[];

  constructor(secrets: Iterable<Sensitive | string>) {
    const all = new Set<string>();
    for (const s of secrets) {
      const v = typeof s === "string" ? s : s.unwrap();
      all.add(v);
      for (const line of v.split(/\r?\n/)) all.add(line.trim());
    }
    this.#values = [...all].filter((v) => v.length >= MIN_LENGTH).sort((a, b) => b.length - a.length);
  }

  /** A redactor that masks nothing: for deployments that can see no secret. */
  static readonly none = new Redactor([]);

  get empty(): boolean {
    return this.#values.length === 0;
  }

  /** The text with every secret value masked. */
  redact(text: string): string {
    if (this.#values.length === 0 || !text) return text;
    return this.#values.reduce((t, v) => (t.includes(v) ? t.split(v).join(MASK) : t), text);
  }

  /**
   * A stream of chunks, masked across chunk boundaries: a chunk's end that could begin a secret is
   * held back until the next chunk shows whether it does (or until end()).
   */
  stream(): RedactionStream {
    return new RedactionStream(this, this.#values);
  }
}

export class RedactionStream {
  #held = "";

  constructor(
    private readonly redactor: Redactor,
    private readonly values: readonly string[],
  ) {}

  /** Masks what can be decided now and returns it; keeps a possible secret's beginning for later. */
  push(chunk: string): string {
    const text = this.redactor.redact(this.#held + chunk);
    const hold = this.#heldLength(text);
    this.#held = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  /** What is still held back, masked: the stream is over. */
  end(): string {
    const rest = this.redactor.redact(this.#held);
    this.#held = "";
    return rest;
  }

  /** The longest end of text that is a proper beginning of some secret value. */
  #heldLength(text: string): number {
    let longest = 0;
    for (const v of this.values) {
      for (let k = Math.min(v.length - 1, text.length); k > longest; k--) {
        if (text.endsWith(v.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}
