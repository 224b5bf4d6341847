import type { Clock } from "../../../core/clock.js";

interface Timer {
  at: number;
  fire: () => void;
}

/**
 * A Clock whose time moves only when told. `advance(ms)` moves it and fires whatever falls due, in
 * deadline order. In auto-advancing mode (the default) `sleep(ms)` moves time by ms itself, so a
 * polling loop runs to its deadline at once in simulated time; `timeout` signals fire when time
 * passes their deadline either way.
 */
export class FakeClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];

  constructor(
    start = Date.now(),
    readonly autoAdvance = true,
  ) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.autoAdvance) {
      this.advance(ms);
      // Still a turn of the event loop, as a real sleep is: the caller's other work gets to run.
      return new Promise((resolve, reject) =>
        setImmediate(() => {
          if (signal?.aborted) reject(signal.reason);
          else resolve();
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const timer: Timer = {
        at: this.#now + ms,
        fire: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#schedule(timer);
    });
  }

  timeout(ms: number): AbortSignal {
    const controller = new AbortController();
    const fire = (): void => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    if (ms <= 0) fire();
    else this.#schedule({ at: this.#now + ms, fire });
    return controller.signal;
  }

  /** Moves time forward by ms, firing every timer and deadline that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#timers[0];
      if (!next || next.at > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.fire();
    }
    this.#now = target;
  }

  /** Timers and deadlines not yet due. */
  get pending(): number {
    return this.#timers.length;
  }

  #schedule(timer: Timer): void {
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at);
  }
}
