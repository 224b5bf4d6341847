import { systemClock, type Clock } from "../core/clock.js";
import { atMost, Nap } from "../core/nap.js";
import type { Logger } from "../core/logger.js";
import type { Db } from "../store/db.js";
import { lockKeys, withLockIfFree } from "../store/locks.js";
import { deliveryPayload, finishDeliveries, forgetDeliveries, newerProcessed, pendingDeliveries, retryDelivery, type PendingDelivery } from "../store/webhook-inbox.js";

/** Processes one delivery's payload; returns its outcome ("queued", "ignored", …) for the record. */
export type DeliveryHandler = (deliveryId: string, payload: unknown) => Promise<string>;

export interface ProcessorOptions {
  /** Deliveries read per pass; superseding happens within a pass. */
  batch?: number;
  /** How often an idle processor looks for deliveries another process recorded, or retries. */
  pollMs?: number;
  /** Attempts after which a delivery that keeps failing is given up (recorded as failed). */
  maxAttempts?: number;
  /** How long processed deliveries are kept as a record. */
  keepMs?: number;
  clock?: Clock;
}

const DAY_MS = 86_400_000;

/**
 * Works the webhook inbox after GitHub got its answer: oldest first, one processor across all
 * processes (an advisory lock), and of one topic's waiting deliveries only the newest is processed;
 * the others are marked superseded without anything being started for them. A delivery whose
 * processing fails (Postgres or Redis away) is tried again with backoff; a crash leaves it waiting for
 * the next start. Handlers are idempotent per delivery id, so processing one twice records nothing twice.
 */
export class WebhookProcessor {
  readonly #clock: Clock;
  readonly #opts: Required<Omit<ProcessorOptions, "clock">>;
  #loop: Promise<void> | undefined;
  #stopping = new AbortController();
  readonly #nap: Nap;
  #woken = false;
  #forgotAt = 0;

  constructor(
    private readonly db: Db,
    private readonly handlers: Readonly<Record<string, DeliveryHandler>>,
    private readonly log: Logger,
    opts: ProcessorOptions = {},
  ) {
    this.#clock = opts.clock ?? systemClock;
    this.#nap = new Nap(this.#clock);
    this.#opts = { batch: opts.batch ?? 200, pollMs: opts.pollMs ?? 1_000, maxAttempts: opts.maxAttempts ?? 10, keepMs: opts.keepMs ?? 7 * DAY_MS };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** A delivery was recorded: process it now rather than at the next poll. */
  wake(): void {
    this.#woken = true;
    this.#nap.wake();
  }

  /** Stops after the delivery in hand (at most graceMs); what is left waits in Postgres for the next start. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopping.abort();
    this.wake();
    await atMost(this.#loop, graceMs);
  }

  async #run(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      this.#woken = false;
      try {
        await withLockIfFree(this.db, lockKeys.inbox(), () => this.#drain());
        await this.#forgetOld();
      } catch (err) {
        this.log.warn({ err }, "webhook inbox pass failed; trying again");
      }
      if (this.#woken) continue;
      await this.#nap.take(this.#opts.pollMs);
    }
  }

  /** Processes passes until nothing due is left. */
  async #drain(): Promise<void> {
    for (;;) {
      if (this.#stopping.signal.aborted) return;
      const pending = await pendingDeliveries(this.db, this.#opts.batch);
      if (pending.length === 0) return;
      const { run, superseded } = planPass(pending);
      for (const [newest, older] of superseded) await finishDeliveries(this.db, older, `superseded by ${newest}`);
      for (const d of run) {
        if (this.#stopping.signal.aborted) return;
        await this.#process(d);
      }
    }
  }

  async #process(d: PendingDelivery): Promise<void> {
    const handler = this.handlers[d.event];
    try {
      // A retried delivery that a newer one of its topic overtook while it waited is not run after it.
      const overtaken = d.attempts > 0 && d.topic !== null ? await newerProcessed(this.db, d.topic, d.id) : undefined;
      if (overtaken) return await finishDeliveries(this.db, [d.id], `superseded by ${overtaken}`);
      const text = handler ? await deliveryPayload(this.db, d.id) : undefined;
      const outcome = handler && text !== undefined ? await handler(d.deliveryId, JSON.parse(text)) : "ignored";
      await finishDeliveries(this.db, [d.id], outcome);
    } catch (err) {
      const attempts = d.attempts + 1;
      if (attempts >= this.#opts.maxAttempts) {
        this.log.error({ err, deliveryId: d.deliveryId, attempts }, "webhook delivery failed every attempt; given up");
        await finishDeliveries(this.db, [d.id], "failed", (err as Error).message ?? String(err));
        return;
      }
      const retryInMs = Math.min(1_000 * 2 ** (attempts - 1), 60_000);
      this.log.warn({ err, deliveryId: d.deliveryId, attempts, retryInMs }, "webhook delivery failed; will try again");
      await retryDelivery(this.db, d.id, (err as Error).message ?? String(err), retryInMs);
    }
  }

  async #forgetOld(): Promise<void> {
    const now = this.#clock.now();
    if (now - this.#forgotAt < 3_600_000) return;
    this.#forgotAt = now;
    const forgotten = await forgetDeliveries(this.db, this.#opts.keepMs);
    if (forgotten) this.log.info({ forgotten }, "forgot old webhook deliveries");
  }
}

/**
 * One pass over waiting deliveries (oldest first): each topic's newest runs, its older ones are
 * superseded by it; deliveries without a topic all run. Runs stay in arrival order.
 */
export function planPass(pending: readonly PendingDelivery[]): { run: PendingDelivery[]; superseded: Map<string, string[]> } {
  const newest = new Map<string, PendingDelivery>();
  for (const d of pending) if (d.topic !== null) newest.set(d.topic, d);
  const run: PendingDelivery[] = [];
  const superseded = new Map<string, string[]>();
  for (const d of pending) {
    const winner = d.topic === null ? d : newest.get(d.topic);
    if (!winner || winner === d) {
      run.push(d);
      continue;
    }
    superseded.set(winner.deliveryId, [...(superseded.get(winner.deliveryId) ?? []), d.id]);
  }
  return { run, superseded };
}
