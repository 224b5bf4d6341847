import type { Kysely } from "kysely";

/**
 * The normalized berth.yaml a deployment was built with, and the repository files its services mount
 * (read at the commit), so its release needs no second fetch; and the paths a push changed, for
 * build.watch (null when the payload cannot tell).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("manifest", "jsonb").addColumn("files", "jsonb").addColumn("changed_paths", "jsonb").execute();
  // Path routes of a live release (to processes and services), beside its web upstream.
  await db.schema.alterTable("releases").addColumn("routes", "jsonb").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("releases").dropColumn("routes").execute();
  await db.schema.alterTable("deployments").dropColumn("manifest").dropColumn("files").dropColumn("changed_paths").execute();
}
