import { sql, type Kysely } from "kysely";

/**
 * Droid servers registered through the API (the built-in `local` is BERTH_DOCKER_HOST and has no row).
 * TLS material is sealed with BERTH_SECRET_KEY like secrets; state, last_error, checked_at and engine
 * (version, CPUs, memory, container counts) record the last time berth reached the engine, or failed to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("servers")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("docker_url", "text", (c) => c.notNull())
    .addColumn("labels", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("tls_sealed", "text")
    .addColumn("state", "text", (c) => c.notNull().defaultTo("reachable"))
    .addColumn("last_error", "text")
    .addColumn("checked_at", "timestamptz")
    .addColumn("engine", "jsonb")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("servers").execute();
}
