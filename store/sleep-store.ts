import { sql } from "kysely";
import type { Db } from "./db.js";
import type { Manifest } from "../manifest/manifest.js";

/** One live environment as the sleeper sees it: what it runs, when it was last used, whether it sleeps. */
export interface SleepCandidate {
  appId: number;
  /** The app's Docker name (labels), not its public name. */
  app: string;
  environment: string;
  hostname: string;
  deploymentId: number;
  webContainer: string | null;
  /** `name:port` of the web container, as routed. */
  upstream: string | null;
  manifest: Manifest | null;
  liveAt: Date | null;
  sleepingAt: Date | null;
  lastRequestAt: Date | null;
  wokenAt: Date | null;
}

/** Every live environment on a server with its sleep state: what the sleeper plans from. */
export async function sleepCandidates(db: Db, server: string, where: { hostname?: string; appId?: number; environment?: string } = {}): Promise<SleepCandidate[]> {
  let q = db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .innerJoin("apps", "apps.id", "releases.app_id")
    .leftJoin("environment_sleep as s", (j) => j.onRef("s.app_id", "=", "releases.app_id").onRef("s.environment", "=", "releases.environment"))
    .select([
      "releases.app_id as appId",
      "apps.name as app",
      "releases.environment as environment",
      "releases.hostname as hostname",
      "releases.deployment_id as deploymentId",
      "releases.container_id as webContainer",
      "releases.upstream as upstream",
      "deployments.manifest as manifest",
      "releases.live_at as liveAt",
      "s.sleeping_at as sleepingAt",
      "s.last_request_at as lastRequestAt",
      "s.woken_at as wokenAt",
    ])
    .where("releases.server", "=", server)
    .where("releases.state", "=", "live");
  if (where.hostname !== undefined) q = q.where("releases.hostname", "=", where.hostname);
  if (where.appId !== undefined) q = q.where("releases.app_id", "=", where.appId);
  if (where.environment !== undefined) q = q.where("releases.environment", "=", where.environment);
  return q.orderBy("releases.id").execute();
}

/** Records the newest request seen for an environment; an older time than the stored one changes nothing. */
export async function recordRequest(db: Db, appId: number, environment: string, at: Date): Promise<void> {
  await db
    .insertInto("environment_sleep")
    .values({ app_id: appId, environment, sleeping_at: null, last_request_at: at, woken_at: null })
    .onConflict((oc) => oc.columns(["app_id", "environment"]).doUpdateSet({ last_request_at: sql`greatest(environment_sleep.last_request_at, excluded.last_request_at)`, updated_at: sql`now()` }))
    .execute();
}

/** Marks an environment asleep (desired state); false when it already was. */
export async function markAsleep(db: Db, appId: number, environment: string): Promise<boolean> {
  const r = await db
    .insertInto("environment_sleep")
    .values({ app_id: appId, environment, sleeping_at: sql<Date>`now()`, last_request_at: null, woken_at: null })
    .onConflict((oc) => oc.columns(["app_id", "environment"]).doUpdateSet({ sleeping_at: sql`now()`, updated_at: sql`now()` }).where("environment_sleep.sleeping_at", "is", null))
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Marks an environment awake from now on (its idle time starts again); false when it was not asleep. */
export async function markAwake(db: Db, appId: number, environment: string, at = new Date()): Promise<boolean> {
  const r = await db
    .updateTable("environment_sleep")
    .set({ sleeping_at: null, woken_at: at, updated_at: sql`now()` })
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where("sleeping_at", "is not", null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** `app_id:environment` of every environment that should be asleep, for checks that must leave them alone (autoheal). */
export async function sleepingKeys(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom("environment_sleep").select(["app_id", "environment"]).where("sleeping_at", "is not", null).execute();
  return new Set(rows.map((r) => `${r.app_id}:${r.environment}`));
}

/** The sleep state of an app's environments, for the API. */
export async function sleepStates(db: Db, appId: number): Promise<Map<string, { sleepingAt: Date | null; lastRequestAt: Date | null; wokenAt: Date | null }>> {
  const rows = await db.selectFrom("environment_sleep").selectAll().where("app_id", "=", appId).execute();
  return new Map(rows.map((r) => [r.environment, { sleepingAt: r.sleeping_at, lastRequestAt: r.last_request_at, wokenAt: r.woken_at }]));
}

/** The names of an app's environments that should be asleep, for the dashboard. */
export async function sleepingEnvironments(db: Db, appId: number): Promise<string[]> {
  const rows = await db.selectFrom("environment_sleep").select("environment").where("app_id", "=", appId).where("sleeping_at", "is not", null).orderBy("environment").execute();
  return rows.map((r) => r.environment);
}
