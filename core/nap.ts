import type { Clock } from "./clock.js";

/**
 * The idle wait of a polling loop that new work cuts short: `take` sleeps up to ms, `wake` ends the
 * nap under way (and lets the next one start fresh). Shared by the loops that work Postgres tables.
 */
export class Nap {
  #controller = new AbortController();

  constructor(private readonly clock: Clock) {}

  async take(ms: number): Promise<void> {
    await this.clock.sleep(ms, this.#controller.signal).catch(() => undefined);
  }

  wake(): void {
    const current = this.#controller;
    this.#controller = new AbortController();
    current.abort();
  }
}

/** Waits for work to end, but no longer than graceMs: shutdown leaves the rest for the next start. */
export async function atMost(work: Promise<unknown> | undefined, graceMs: number): Promise<void> {
  const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([work, grace]);
}
