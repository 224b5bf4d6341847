import { sql } from "kysely";
import type { Manifest } from "../manifest/manifest.js";
import type { Db } from "./db.js";

/** The server an app environment lives on, if it was placed. */
export async function getPlacement(db: Db, appId: number, environment: string): Promise<string | undefined> {
  const row = await db.selectFrom("placements").select("server").where("app_id", "=", appId).where("environment", "=", environment).executeTakeFirst();
  return row?.server;
}

/** Places an environment unless it was placed meanwhile; the server it lives on either way. */
export async function place(db: Db, appId: number, environment: string, server: string): Promise<string> {
  await db.insertInto("placements").values({ app_id: appId, environment, server }).onConflict((oc) => oc.columns(["app_id", "environment"]).doNothing()).execute();
  return (await getPlacement(db, appId, environment)) ?? server;
}

/** Moves an environment to another server (its next release starts there). */
export async function movePlacement(db: Db, appId: number, environment: string, server: string): Promise<void> {
  await db
    .insertInto("placements")
    .values({ app_id: appId, environment, server })
    .onConflict((oc) => oc.columns(["app_id", "environment"]).doUpdateSet({ server, placed_at: sql`now()` }))
    .execute();
}

/** Forgets where a torn-down environment lived: when it comes back it is placed afresh. */
export async function forgetPlacement(db: Db, appId: number, environment: string): Promise<void> {
  await db.deleteFrom("placements").where("app_id", "=", appId).where("environment", "=", environment).execute();
}

/** Environments placed on each server, by release server name. */
export async function placedCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db.selectFrom("placements").select(["server", sql<string>`count(*)`.as("n")]).groupBy("server").execute();
  return new Map(rows.map((r) => [r.server, Number(r.n)]));
}

/** Each placed environment's server and its newest berth.yaml (null before one was read): what it reserves. */
export async function placedManifests(db: Db): Promise<{ server: string; manifest: Manifest | null }[]> {
  const rows = await sql<{ server: string; manifest: Manifest | null }>`
    select p.server, (
      select d.manifest from deployments d
      where d.app_id = p.app_id and d.environment = p.environment and d.manifest is not null
      order by d.id desc limit 1
    ) as manifest
    from placements p`.execute(db);
  return rows.rows;
}
