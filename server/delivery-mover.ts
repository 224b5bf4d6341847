import type { Logger } from "../core/logger.js";
import type { JournalEntry, WebhookJournal } from "../store/webhook-journal.js";

/** Deliveries per insert, and about this many bytes of bodies. */
const BATCH = 200;
const BATCH_BYTES = 4 * 1024 * 1024;
const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 2_000;

export interface DeliveryMover {
  /** Something was journaled: copy it to Postgres (at once, unless waiting out a failure). */
  wake(): void;
  /** Copies what it can within `withinMs`, then stops; the rest stays in the journal for the next start. */
  stop(withinMs: number): Promise<void>;
  /**
   * Its last insert failed and nothing has gone in since: Postgres is not back for the intake, however
   * the other pools fare. GitHub is not asked to deliver again until it is, or the deliveries asked
   * for would find the journal still full.
   */
  failing(): boolean;
}

/**
 * Copies journaled deliveries to Postgres in arrival order, one insert at a time: what arrives while
 * an insert runs goes in the next one, so a burst costs a few inserts, not one per delivery. A failed
 * insert (Postgres away) is tried again with backoff and nothing leaves the journal until it is in.
 * A delivery Postgres refuses as data (never seen from GitHub) is logged and dropped on its own, so it
 * cannot hold up the others.
 */
export function startDeliveryMover(opts: {
  journal: WebhookJournal;
  record: (entries: readonly JournalEntry[]) => Promise<number>;
  /** Some were new: the inbox has work. */
  onRecorded: () => void;
  /** An insert failed: Postgres may have lost what it had not written (redelivery-wiring.ts). */
  onFailure: (err: Error) => void;
  log: Logger;
}): DeliveryMover {
  const { journal, log } = opts;
  let running = false;
  let stopped = false;
  let retryMs = 0;
  let retry: NodeJS.Timeout | undefined;
  let failing = false;
  let single = 0; // after a data error: this many more one at a time, to find the delivery Postgres refuses

  const run = async (): Promise<void> => {
    if (running || stopped || retry) return;
    running = true;
    try {
      while (journal.size > 0 && !stopped) {
        const batch = journal.head(single > 0 ? 1 : BATCH, BATCH_BYTES);
        try {
          const fresh = await opts.record(batch);
          journal.recorded(batch.length);
          if (retryMs > 0) log.info({ waiting: journal.size }, "webhook deliveries recorded in Postgres again");
          retryMs = 0;
          failing = false;
          single = Math.max(0, single - 1);
          if (fresh > 0) opts.onRecorded();
        } catch (e) {
          const err = e as Error & { code?: unknown };
          if (typeof err.code === "string" && err.code.startsWith("22")) {
            if (batch.length > 1) single = batch.length;
            else {
              single = Math.max(0, single - 1);
              log.error({ err, deliveryId: batch[0]?.deliveryId }, "Postgres refused a webhook delivery's record; it is dropped");
              journal.recorded(1);
            }
            continue;
          }
          if (stopped) return; // the journal keeps them for the next start
          failing = true;
          if (retryMs === 0) log.error({ err, waiting: journal.size }, "could not record webhook deliveries in Postgres; they wait in the journal");
          opts.onFailure(err);
          retryMs = Math.min(retryMs ? retryMs * 2 : FIRST_RETRY_MS, LAST_RETRY_MS);
          retry = setTimeout(() => {
            retry = undefined;
            void run();
          }, retryMs);
          return;
        }
      }
    } finally {
      running = false;
    }
  };

  return {
    wake: () => void run(),
    failing: () => failing,
    stop: async (withinMs) => {
      const until = Date.now() + withinMs;
      while (journal.size > 0 && Date.now() < until) {
        if (retry) break; // Postgres is away: the journal keeps them
        void run();
        await new Promise((r) => setTimeout(r, 20));
      }
      stopped = true;
      clearTimeout(retry);
      while (running && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
