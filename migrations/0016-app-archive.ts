import type { Kysely } from "kysely";

/**
 * An app whose repository left the App's installation (or whose installation was deleted) is archived,
 * not deleted: its deployments, secrets and running environments stay, and it comes back when the
 * repository is added again or pushed to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("apps").addColumn("archived_at", "timestamptz").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("apps").dropColumn("archived_at").execute();
}
