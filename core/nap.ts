import type { Clock } from "./clock.js";

/**
 * The idle wait of a polling loop that new work cuts short: `take` sleeps up to ms, `wake` ends the
 * nap under way (and lets the next one start fresh). Shared by the loops that work Postgres tables.
 */
export class Nap {
  #controller = new AbortController();
  #napping = 0;

  constructor(private readonly clock: Clock) {}

  async take(ms: number): Promise<void> {
    this.#napping++;
    try {
      await this.clock.sleep(ms, this.#controller.signal).catch(() => undefined);
    } finally {
      this.#napping--;
    }
  }

  wake(): void {
    // Called for every webhook and report recorded (hundreds a second in a burst): with nobody
    // napping there is nothing to end, and an abort without a reason builds a DOMException with a
    // stack trace, which showed in profiles of such bursts.
    if (this.#napping === 0) return;
    const current = this.#controller;
    this.#controller = new AbortController();
    current.abort(WOKEN);
  }
}

const WOKEN = new Error("woken");

/** Waits for work to end, but no longer than graceMs: shutdown leaves the rest for the next start. */
export async function atMost(work: Promise<unknown> | undefined, graceMs: number): Promise<void> {
  const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([work, grace]);
}
