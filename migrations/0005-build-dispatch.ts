import { sql, type Kysely } from "kysely";

/**
 * Per-app build limits: a deployment is handed to the build queue (dispatched) only while its app has
 * fewer builds in flight than its limit, oldest first. `dispatched_at` marks the hand-off; an app's
 * `build_concurrency` overrides BERTH_APP_BUILD_CONCURRENCY.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("dispatched_at", "timestamptz").execute();
  await db.schema.alterTable("apps").addColumn("build_concurrency", "integer").execute();
  // The dispatcher's and the sweeper's question: which deployments of an app are queued or building.
  // Deployments already in the queue when berth is upgraded hold their slots like any dispatched one.
  await sql`update deployments set dispatched_at = coalesce(started_at, created_at) where state in ('queued', 'building')`.execute(db);
  await sql`create index deployments_app_active on deployments (app_id, id) where state in ('queued', 'building')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("deployments_app_active").execute();
  await db.schema.alterTable("apps").dropColumn("build_concurrency").execute();
  await db.schema.alterTable("deployments").dropColumn("dispatched_at").execute();
}
