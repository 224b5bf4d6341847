import type { Redis } from "ioredis";
import type { Probot } from "probot";
import type { Logger } from "../core/logger.js";
import { OctokitHookDeliveries, redeliverMissed } from "../github/hook-redelivery.js";
import type { Db } from "../store/db.js";
import { lastReceivedAt, recordedDeliveries } from "../store/webhook-inbox.js";
import { startHealthWatch } from "./health-watch.js";
import { probeHealth } from "./http-server.js";

/**
 * Webhooks GitHub could not deliver: those that arrived while Postgres or Redis was down got a 5xx, and
 * those sent while berth was not running at all found no listener; GitHub retries neither by itself.
 * Nor those of `events` answered in the last moment before Postgres or the machine crashed, whose
 * records were not yet on disk. Once healthy again (and once listening after a start), berth asks
 * GitHub to deliver again each of them it has no record of.
 */
export function startRedelivery(probot: Probot, db: Db, redis: Redis, events: ReadonlySet<string>, intake: { journaled: (guid: string) => boolean; failing: () => boolean }, log: Logger): { markUnhealthy: () => void; afterListen: () => Promise<void>; stop: () => Promise<unknown> } {
  const deliveries = new OctokitHookDeliveries(probot);
  const asked = new Set<string>();
  // A delivery still in the journal (webhook-journal.ts) was answered and is on its way into Postgres.
  // (Looked at first: one the mover takes from the journal while Postgres is asked is then found there.)
  const recorded = async (guids: string[]) => {
    const journaled = guids.filter(intake.journaled);
    return new Set([...journaled, ...(await recordedDeliveries(db, guids))]);
  };
  const watch = startHealthWatch({
    // Healthy once the intake records again too: what GitHub sends again must find room in the journal.
    probe: async () => Object.values(await probeHealth(db, redis)).every(Boolean) && !intake.failing(),
    onRecovered: (since) => redeliverMissed(deliveries, since, asked, log, recorded, events),
    intervalMs: 1000,
    log,
  });
  return {
    // A handler that failed answered 5xx; an outage shorter than a probe interval is seen this way.
    markUnhealthy: () => watch.markUnhealthy(),
    // From the newest delivery berth recorded (it was up then), at most GitHub's three days back.
    afterListen: async () => {
      const since = Math.max((await lastReceivedAt(db))?.getTime() ?? 0, Date.now() - 3 * 86_400_000) - 60_000;
      await redeliverMissed(deliveries, new Date(since), asked, log, recorded, events);
    },
    stop: async () => watch.stop(),
  };
}
