import type { Kysely } from "kysely";

/** A rollback is a deployment of an earlier one's image: this names that one (null for a push). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("rollback_of", "integer", (c) => c.references("deployments.id").onDelete("set null")).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").dropColumn("rollback_of").execute();
}
