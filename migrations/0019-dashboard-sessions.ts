import { sql, type Kysely } from "kysely";

/**
 * Dashboard sessions. The row is keyed by the SHA-256 of the random session id the cookie holds, so
 * a copy of the table opens no session; the user's GitHub token is sealed under a key derived from
 * that id (core/session-token.ts), so it is readable only while the browser presents its cookie.
 * `actor` on deployments is who caused one (the pusher, or the dashboard user who pressed a button).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("login", "text", (c) => c.notNull())
    .addColumn("github_user_id", "bigint")
    .addColumn("admin", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("token_sealed", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sessions_expires_at").on("sessions").column("expires_at").execute();
  await db.schema.alterTable("deployments").addColumn("actor", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").dropColumn("actor").execute();
  await db.schema.dropTable("sessions").execute();
}
