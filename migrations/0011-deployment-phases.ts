import { sql, type Kysely } from "kysely";

/**
 * When each phase of a deployment happened (ms since the epoch, by phase name), so the fixed costs of
 * a push-to-live can be seen per deployment rather than guessed from four timestamps.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("phases", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").dropColumn("phases").execute();
}
