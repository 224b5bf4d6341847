import type { Kysely } from "kysely";

/**
 * The name berth.yaml gives an app (`name:`), for its hostnames, URLs and API. Docker resources keep
 * the app's first name (`apps.name`), so a rename moves no container, network or volume: production
 * data stays where it is and the switch is an ordinary release under the new hostname.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("apps").addColumn("public_name", "text").execute();
  await db.schema.createIndex("apps_public_name").unique().on("apps").column("public_name").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("apps_public_name").execute();
  await db.schema.alterTable("apps").dropColumn("public_name").execute();
}
