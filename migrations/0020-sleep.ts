import { sql, type Kysely } from "kysely";

/**
 * Sleeping environments: one row per app environment that can sleep (or did). `sleeping_at` is the
 * desired state — set: asleep (containers stopped, route to berth's waker); null: awake — and the
 * reconciler converges the droid to it, so a crash mid-wake or mid-sleep ends in one state or the
 * other. `last_request_at` is the newest request the proxy's access log showed (or a wake).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("environment_sleep")
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) => c.notNull())
    .addColumn("sleeping_at", "timestamptz")
    .addColumn("last_request_at", "timestamptz")
    .addColumn("woken_at", "timestamptz")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("environment_sleep_pk", ["app_id", "environment"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("environment_sleep").execute();
}
