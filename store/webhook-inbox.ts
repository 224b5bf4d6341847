import { sql } from "kysely";
import type { Db } from "./db.js";
import type { JournalEntry } from "./webhook-journal.js";

/** An unprocessed delivery, without its body (bodies are read one at a time: each may be 25 MB). */
export interface PendingDelivery {
  id: string;
  deliveryId: string;
  event: string;
  topic: string | null;
  attempts: number;
}

/**
 * Records deliveries in arrival order, each once: one whose guid was recorded before (GitHub redelivered
 * it, or a journal was taken up twice) is skipped. One refused at the door is recorded as done
 * (`refused: <field>`) without its body: it is never worked on, and berth does not ask GitHub for it
 * again as one it lost. Returns how many were new.
 */
export async function recordDeliveries(db: Db, entries: readonly JournalEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const rows = entries.map((d) => ({
    delivery_id: d.deliveryId,
    event: d.event,
    topic: d.refused === undefined ? d.topic : null,
    payload: d.refused === undefined ? d.payload : null,
    received_at: new Date(d.receivedAt),
    processed_at: d.refused === undefined ? null : sql<Date>`now()`,
    outcome: d.refused === undefined ? null : `refused: ${d.refused}`.slice(0, 200),
  }));
  const inserted = await db.insertInto("webhook_deliveries").values(rows).onConflict((oc) => oc.column("delivery_id").doNothing()).returning("id").execute();
  return inserted.length;
}

/** The oldest unprocessed deliveries that are due, in arrival order. */
export async function pendingDeliveries(db: Db, limit: number): Promise<PendingDelivery[]> {
  const rows = await db
    .selectFrom("webhook_deliveries")
    .select(["id", "delivery_id", "event", "topic", "attempts"])
    .where("processed_at", "is", null)
    .where((eb) => eb.or([eb("not_before", "is", null), eb("not_before", "<=", sql<Date>`now()`)]))
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, deliveryId: r.delivery_id, event: r.event, topic: r.topic, attempts: r.attempts }));
}

export async function deliveryPayload(db: Db, id: string): Promise<string | undefined> {
  const row = await db.selectFrom("webhook_deliveries").select("payload").where("id", "=", id).executeTakeFirst();
  return row?.payload ?? undefined;
}

/** The newest delivery of a topic processed after this one arrived, if any: it replaces a retried older one. */
export async function newerProcessed(db: Db, topic: string, id: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("webhook_deliveries")
    .select("delivery_id")
    .where("topic", "=", topic)
    .where("id", ">", id)
    .where("processed_at", "is not", null)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.delivery_id;
}

/** Marks deliveries processed with their outcome (and why, when it failed); the body is no longer needed and goes. */
export async function finishDeliveries(db: Db, ids: readonly string[], outcome: string, error?: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("webhook_deliveries")
    .set({ processed_at: sql`now()`, outcome, payload: null, error: error?.slice(0, 2000) ?? null })
    .where("id", "in", [...ids])
    .where("processed_at", "is", null)
    .execute();
}

/** A delivery whose processing failed (Postgres or Redis away): tried again at retryAt. */
export async function retryDelivery(db: Db, id: string, error: string, retryInMs: number): Promise<void> {
  await db
    .updateTable("webhook_deliveries")
    .set({ attempts: sql`attempts + 1`, error: error.slice(0, 2000), not_before: sql`now() + ${retryInMs} * interval '1 millisecond'` })
    .where("id", "=", id)
    .execute();
}

/** Forgets processed deliveries older than maxAgeMs; returns how many. */
export async function forgetDeliveries(db: Db, maxAgeMs: number): Promise<number> {
  const result = await db
    .deleteFrom("webhook_deliveries")
    .where("processed_at", "<", sql<Date>`now() - ${maxAgeMs} * interval '1 millisecond'`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** When the newest recorded delivery arrived: berth was up then. */
export async function lastReceivedAt(db: Db): Promise<Date | undefined> {
  const row = await db.selectFrom("webhook_deliveries").select((eb) => eb.fn.max("received_at").as("at")).executeTakeFirst();
  return row?.at ? new Date(row.at) : undefined;
}

/** Which of these delivery guids are recorded (processed or waiting). */
export async function recordedDeliveries(db: Db, guids: readonly string[]): Promise<Set<string>> {
  if (guids.length === 0) return new Set();
  const rows = await db.selectFrom("webhook_deliveries").select("delivery_id").where("delivery_id", "in", [...guids]).execute();
  return new Set(rows.map((r) => r.delivery_id));
}
