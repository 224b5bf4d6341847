import type { StreamSink } from "../../../server/log-streams.js";

/**
 * A response that records what a log stream writes. `stalled` keeps everything buffered, as a client
 * that stopped reading does; `disconnect()` is the client going away.
 */
export class FakeStreamSink implements StreamSink {
  status = 0;
  headers: Record<string, string> = {};
  text = "";
  ended = false;
  destroyed = false;
  stalled = false;
  #buffered = 0;
  #onClose: (() => void)[] = [];

  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  write(chunk: string): boolean {
    if (this.ended || this.destroyed) throw new Error("write after the stream ended");
    this.text += chunk;
    if (this.stalled) this.#buffered += Buffer.byteLength(chunk);
    return !this.stalled;
  }

  end(chunk?: string): this {
    if (this.ended) throw new Error("ended twice");
    if (chunk) this.text += chunk;
    this.ended = true;
    this.#close();
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    this.#close();
    return this;
  }

  get writableLength(): number {
    return this.#buffered;
  }

  once(_event: "close", listener: () => void): this {
    this.#onClose.push(listener);
    return this;
  }

  /** The client closes the connection. */
  disconnect(): void {
    this.destroy();
  }

  /** The `data` of every event of that name, in order. */
  events(name: string): string[] {
    return [...this.text.matchAll(new RegExp(`event: ${name}\\n((?:data: .*\\n)+)\\n`, "g"))].map((m) =>
      m[1]!.slice(0, -1).split("\n").map((l) => l.slice("data: ".length)).join("\n"),
    );
  }

  /** The body of a refusal. */
  json(): { error: string } {
    return JSON.parse(this.text) as { error: string };
  }

  #close(): void {
    for (const fn of this.#onClose.splice(0)) queueMicrotask(fn);
  }
}
