import { sql, type Kysely } from "kysely";

/**
 * Custom domains of an app's production (berth.yaml `domains:`, or the API). A domain belongs to one
 * app (unique name) and is routed only while `verified`: its DNS points at berth's ingress, checked at
 * each production release and on every reconciler pass; `problem` says which record to add.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("domains")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("redirect_to", "text")
    .addColumn("source", "text", (c) => c.notNull().defaultTo("manifest"))
    .addColumn("verified", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("problem", "text")
    .addColumn("checked_at", "timestamptz")
    .addColumn("verified_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("domains").execute();
}
