import type { Logger } from "../core/logger.js";

export interface HealthWatchOptions {
  /** True when Postgres and Redis answer. */
  probe: () => Promise<boolean>;
  /** Called once health returns, with the last moment berth was known healthy before the outage. */
  onRecovered: (lastHealthy: Date) => Promise<unknown>;
  intervalMs: number;
  log: Logger;
  now?: () => number;
}

export interface HealthWatch {
  /**
   * Something failed that needs Postgres or Redis (a webhook answered 5xx): count berth unhealthy from
   * now, even if the outage was too short for a probe to see.
   */
  markUnhealthy(): void;
  stop(): Promise<void>;
}

/** Probes berth's own health on an interval and reports each return to health after an outage. */
export function startHealthWatch(o: HealthWatchOptions): HealthWatch {
  const now = o.now ?? Date.now;
  let lastHealthy = now();
  let down = false;
  // Recovery waits for a probe that started a while after the last failure: GitHub lists a failed
  // delivery only once berth has answered it.
  let settledAt = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = (): void => {
    running = (async () => {
      const startedAt = now();
      const ok = await o.probe().catch(() => false);
      if (!ok) {
        if (!down) o.log.warn({ lastHealthy: new Date(lastHealthy) }, "berth is unhealthy (Postgres or Redis does not answer)");
        down = true;
        return;
      }
      if (down && startedAt < settledAt) return;
      if (down) {
        down = false;
        o.log.info({ since: new Date(lastHealthy) }, "berth is healthy again");
        // A failed handler may have answered just before a probe saw the outage: look back one interval more.
        await o.onRecovered(new Date(lastHealthy - o.intervalMs)).catch((err: unknown) => {
          o.log.error({ err }, "recovery after an outage failed");
          down = true; // try again on the next healthy probe
          return;
        });
      }
      if (!down) lastHealthy = now();
    })().finally(() => {
      if (!stopped) timer = setTimeout(tick, o.intervalMs);
    });
  };
  timer = setTimeout(tick, o.intervalMs);
  return {
    markUnhealthy: () => {
      down = true;
      settledAt = now() + 2 * o.intervalMs;
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
