import type { Kysely } from "kysely";

/**
 * A fork's approval is bound to the commit the writer approved: the label alone survived a close,
 * a push and a reopen (GitHub sends no synchronize to a closed pull request), so new code ran on an
 * old approval.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("environments").addColumn("approved_sha", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("environments").dropColumn("approved_sha").execute();
}
