import { sql, type Kysely } from "kysely";

/**
 * Where each app environment lives: the server (a registered droid's name, or "default" for the
 * built-in BERTH_DOCKER_HOST engine) chosen at its first release and kept across releases until it is
 * moved or torn down. One row per (app, environment), production and previews alike. A deployment
 * records the server its image was built on.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("placements")
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) => c.notNull())
    .addColumn("server", "text", (c) => c.notNull())
    .addColumn("placed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("placements_pkey", ["app_id", "environment"])
    .execute();
  await db.schema.createIndex("placements_server").on("placements").column("server").execute();
  // The server whose engine built the image (a builder elsewhere builds on its own engine): a release moves it from there.
  await db.schema.alterTable("deployments").addColumn("built_on", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").dropColumn("built_on").execute();
  await db.schema.dropTable("placements").execute();
}
