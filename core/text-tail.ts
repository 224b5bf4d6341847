/**
 * The latest `max` characters of a stream of text, and how many were dropped before them. Held in
 * pieces, so a push costs its own length: re-slicing one long string on every line would copy it.
 */
export class TextTail {
  #pieces: string[] = [];
  #chars = 0;
  /** Characters dropped from the front since the last take(). */
  dropped = 0;

  constructor(public max: number) {}

  push(text: string): void {
    this.#pieces.push(text);
    this.#chars += text.length;
    while (this.#chars > this.max) {
      const first = this.#pieces[0] ?? "";
      const n = Math.min(first.length, this.#chars - Math.max(0, this.max));
      if (n === first.length) this.#pieces.shift();
      else this.#pieces[0] = first.slice(n);
      this.#chars -= n;
      this.dropped += n;
    }
  }

  get length(): number {
    return this.#chars;
  }

  /** The text held, without taking it. */
  peek(): string {
    return this.#pieces.join("");
  }

  /** The text held; the tail is empty after, and its dropped count zero. */
  take(): string {
    const text = this.peek();
    this.#pieces = [];
    this.#chars = 0;
    this.dropped = 0;
    return text;
  }
}
