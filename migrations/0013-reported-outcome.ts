import { sql, type Kysely } from "kysely";

/**
 * A deployment remembers the conclusion its check run was given. Reports go out from an in-memory
 * queue, so a berth killed between recording an outcome and telling GitHub left the check run in
 * progress for ever; a sweeper now re-sends the outcome of a finished deployment none was sent for.
 * Deployments finished before this migration count as reported.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("reported", "text").execute();
  await sql`update deployments set reported = state where state in ('live', 'replaced', 'failed', 'cancelled', 'skipped', 'removed')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").dropColumn("reported").execute();
}
