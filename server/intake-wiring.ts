import { join } from "node:path";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import { createDb } from "../store/db.js";
import { recordDeliveries } from "../store/webhook-inbox.js";
import { WebhookJournal, type JournalEntry } from "../store/webhook-journal.js";
import { startDeliveryMover } from "./delivery-mover.js";
import type { ReceivedDelivery } from "./webhook-receiver.js";
import { deliveryTopic, refusedField } from "./webhook-topic.js";

/** How long a stop waits for the journal to reach Postgres; the rest is taken up at the next start. */
const STOP_MS = 1_000;

/**
 * The webhook intake: a verified delivery is written to berth's journal (webhook-journal.ts) and
 * answered; a mover copies it to Postgres after the answer, on a pool of its own (never behind the
 * inbox's, builds' or pages' queries), and wakes the inbox. What an earlier run answered and did not
 * copy is taken up before berth listens.
 */
export function startIntake(opts: {
  config: Pick<Config, "dataDir" | "instance" | "databaseUrl" | "webhookBacklogBytes">;
  metrics: Pick<Metrics, "webhookRecorded">;
  onRecorded: () => void;
  /** An idle connection of its pool failed. */
  onPostgresFailed: (err: Error) => void;
  /** A record could not be written: GitHub is asked for what it missed once Postgres is back (redelivery-wiring.ts). */
  onUnhealthy: () => void;
  log: Logger;
}): { journal: WebhookJournal; receive: (delivery: ReceivedDelivery) => Promise<void>; failing: () => boolean; stop: () => Promise<void> } {
  const { config, log } = opts;
  const journal = new WebhookJournal(join(config.dataDir, "webhook-journal", config.instance), config.webhookBacklogBytes);
  const taken = journal.recover();
  if (taken > 0) log.info({ deliveries: taken }, "webhook deliveries answered before berth stopped are recorded now");
  const db = createDb(config.databaseUrl, 2, { onError: opts.onPostgresFailed });
  const mover = startDeliveryMover({ journal, record: (entries) => recordDeliveries(db, entries), onRecorded: opts.onRecorded, onFailure: opts.onUnhealthy, log });
  mover.wake();

  const receive = async (delivery: ReceivedDelivery): Promise<void> => {
    const started = performance.now();
    const field = refusedField(delivery.name, delivery.payload);
    if (field) log.warn({ deliveryId: delivery.id, field }, `${delivery.name} refused: a field is not what GitHub sends`);
    const entry: JournalEntry = field
      ? { deliveryId: delivery.id, event: delivery.name, topic: null, payload: null, refused: field, receivedAt: Date.now() }
      : { deliveryId: delivery.id, event: delivery.name, topic: deliveryTopic(delivery.name, delivery.payload), payload: JSON.stringify(delivery.payload), receivedAt: Date.now() };
    journal.append(entry); // throws when full: answered 5xx, and GitHub is asked for it once Postgres is back
    opts.metrics.webhookRecorded((performance.now() - started) / 1000);
    mover.wake();
  };

  return {
    journal,
    receive,
    failing: () => mover.failing(),
    stop: async () => {
      await mover.stop(STOP_MS);
      journal.close();
      // An insert stuck on a dead connection must not hold up the exit: its deliveries are in the journal.
      await Promise.race([db.destroy(), new Promise((r) => setTimeout(r, STOP_MS).unref())]);
    },
  };
}
