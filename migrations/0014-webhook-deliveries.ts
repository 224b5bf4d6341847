import { sql, type Kysely } from "kysely";

/**
 * The webhook inbox. A delivery is written here, verified, before berth answers GitHub, and processed
 * after the answer: a burst costs one insert per delivery on the request path, and a crash after the
 * answer loses nothing. `delivery_id` (GitHub's guid) is unique, so a redelivery is recorded once.
 * `topic` names what a delivery changes (a branch, a pull request): of the unprocessed deliveries of
 * one topic only the newest is processed, the older ones are marked superseded and never started.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("delivery_id", "text", (c) => c.notNull().unique())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("topic", "text")
    // Dropped once processed: the row stays as the record of the delivery and its outcome.
    .addColumn("payload", "text")
    .addColumn("received_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("processed_at", "timestamptz")
    .addColumn("outcome", "text")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("not_before", "timestamptz")
    .addColumn("error", "text")
    .execute();
  await sql`create index webhook_deliveries_pending on webhook_deliveries (id) where processed_at is null`.execute(db);
  await sql`create index webhook_deliveries_processed on webhook_deliveries (processed_at) where processed_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("webhook_deliveries").execute();
}
