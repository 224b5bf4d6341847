import type { Logger } from "../core/logger.js";

/**
 * Runs async tasks one after another per key, and different keys side by side. A failing task is
 * logged and does not stop the ones queued after it.
 */
export class SerialQueue {
  readonly #chains = new Map<string, Promise<void>>();

  constructor(private readonly log: Logger) {}

  run(key: string, what: string, fn: () => Promise<void>): void {
    const next = (this.#chains.get(key) ?? Promise.resolve())
      .then(fn)
      .catch((err: unknown) => this.log.warn({ err, key }, `GitHub report failed: ${what}`))
      .finally(() => {
        if (this.#chains.get(key) === next) this.#chains.delete(key);
      });
    this.#chains.set(key, next);
  }

  /** Resolves when every task queued so far has run. */
  async drain(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }
}
