import { TextTail } from "../core/text-tail.js";

/**
 * Collects a command's output up to maxChars: its head and its tail, with a note of how much was cut
 * between them. A container decides how much it prints; berth keeps what an error message needs.
 */
export class BoundedText {
  #head = "";
  readonly #headMax: number;
  readonly #tail: TextTail;

  constructor(maxChars = 1024 * 1024) {
    this.#headMax = Math.floor(maxChars / 2);
    this.#tail = new TextTail(maxChars - this.#headMax);
  }

  push(text: string): void {
    const head = text.slice(0, this.#headMax - this.#head.length);
    this.#head += head;
    if (head.length < text.length) this.#tail.push(text.slice(head.length));
  }

  toString(): string {
    const note = this.#tail.dropped > 0 ? `\n[... ${this.#tail.dropped} characters of output cut ...]\n` : "";
    return this.#head + note + this.#tail.peek();
  }
}
