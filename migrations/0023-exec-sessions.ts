import { sql, type Kysely } from "kysely";

/**
 * Terminal sessions (the exec WebSocket): who opened one into which container of which app
 * environment, when, and how it ended. Kept as an audit trail beside berth's log, which may not be
 * kept; the app page lists an app's latest.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("exec_sessions")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) => c.notNull())
    .addColumn("container", "text", (c) => c.notNull())
    .addColumn("process", "text", (c) => c.notNull())
    .addColumn("server", "text", (c) => c.notNull())
    .addColumn("who", "text", (c) => c.notNull())
    .addColumn("command", "text", (c) => c.notNull())
    .addColumn("tty", "boolean", (c) => c.notNull())
    .addColumn("started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("ended_at", "timestamptz")
    .addColumn("exit_code", "integer")
    .addColumn("reason", "text")
    .addColumn("bytes_in", "bigint")
    .addColumn("bytes_out", "bigint")
    .execute();
  await db.schema.createIndex("exec_sessions_app").on("exec_sessions").columns(["app_id", "id"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("exec_sessions").execute();
}
