import { sql } from "kysely";
import { PRODUCTION } from "../core/names.js";
import type { App, Db, Deployment, DeploymentState, Environment } from "./db.js";

/** One row of the apps page: the app, its newest production deployment and its live previews. */
export interface AppOverview {
  app: App;
  production: Pick<Deployment, "id" | "sha" | "state" | "url" | "actor" | "created_at" | "finished_at"> | undefined;
  /** Production has a live release (whatever its newest deployment is doing). */
  productionLive: boolean;
  livePreviews: number;
  /** Environments asleep (migration 0020), by name. */
  sleeping: string[];
}

/**
 * Every app with its newest production deployment and count of live previews, in one query: the apps
 * page costs one round trip however many apps and deployments there are (index deployments_app_env).
 */
export async function appsOverview(db: Db): Promise<AppOverview[]> {
  const { rows } = await sql<App & { d_id: number | null; d_sha: string | null; d_state: DeploymentState | null; d_url: string | null; d_actor: string | null; d_created_at: Date | null; d_finished_at: Date | null; prod_live: boolean; live_previews: number; sleeping: string[] }>`
    select a.*, d.id as d_id, d.sha as d_sha, d.state as d_state, d.url as d_url, d.actor as d_actor,
           d.created_at as d_created_at, d.finished_at as d_finished_at,
           exists (select 1 from releases r where r.app_id = a.id and r.environment = ${PRODUCTION} and r.state = 'live') as prod_live,
           (select count(distinct r.environment)::int from releases r where r.app_id = a.id and r.environment <> ${PRODUCTION} and r.state = 'live') as live_previews,
           array(select s.environment from environment_sleep s where s.app_id = a.id and s.sleeping_at is not null order by s.environment) as sleeping
    from apps a
    left join lateral (
      select id, sha, state, url, actor, created_at, finished_at from deployments
      where app_id = a.id and environment = ${PRODUCTION} order by id desc limit 1
    ) d on true
    order by coalesce(a.public_name, a.name)`.execute(db);
  return rows.map(({ d_id, d_sha, d_state, d_url, d_actor, d_created_at, d_finished_at, prod_live, live_previews, sleeping, ...app }) => ({
    app: app as App,
    production: d_id === null ? undefined : { id: d_id, sha: d_sha!, state: d_state!, url: d_url, actor: d_actor, created_at: d_created_at!, finished_at: d_finished_at },
    productionLive: prod_live,
    livePreviews: live_previews,
    sleeping,
  }));
}

/** An environment as the app page shows it. */
export interface EnvironmentView {
  name: string;
  prNumber: number | null;
  /** open, closed, expired; production is always open. */
  state: string;
  fork: boolean;
  latest: Pick<Deployment, "id" | "sha" | "state"> | undefined;
  live: { deploymentId: number; server: string; hostname: string } | undefined;
}

/** Production and every open preview of an app, each with its newest deployment and live release. */
export async function appEnvironments(db: Db, appId: number): Promise<EnvironmentView[]> {
  const [previews, live, latest] = await Promise.all([
    db.selectFrom("environments").selectAll().where("app_id", "=", appId).where("state", "=", "open").orderBy("pr_number").execute(),
    db.selectFrom("releases").select(["environment", "server", "deployment_id", "hostname"]).where("app_id", "=", appId).where("state", "=", "live").execute(),
    sql<{ environment: string; id: number; sha: string; state: DeploymentState }>`
      select distinct on (environment) environment, id, sha, state from deployments where app_id = ${appId} order by environment, id desc`.execute(db),
  ]);
  const liveOf = new Map(live.map((r) => [r.environment, { deploymentId: r.deployment_id, server: r.server, hostname: r.hostname }]));
  const latestOf = new Map(latest.rows.map((r) => [r.environment, { id: r.id, sha: r.sha, state: r.state }]));
  const view = (name: string, e?: Environment): EnvironmentView => ({
    name,
    prNumber: e?.pr_number ?? null,
    state: e?.state ?? "open",
    fork: e?.fork ?? false,
    latest: latestOf.get(name),
    live: liveOf.get(name),
  });
  return [view(PRODUCTION), ...previews.map((e) => view(e.name, e))];
}

/** An app's newest deployments, and which of them once went live (a rollback can go back to those). */
export async function deploymentHistory(db: Db, appId: number, limit = 50): Promise<{ deployments: Deployment[]; wentLive: Set<number> }> {
  const deployments = await db.selectFrom("deployments").selectAll().where("app_id", "=", appId).orderBy("id", "desc").limit(limit).execute();
  const ids = deployments.map((d) => d.id);
  const live = ids.length === 0 ? [] : await db.selectFrom("releases").select("deployment_id").where("deployment_id", "in", ids).where("state", "in", ["live", "draining", "stopped"]).execute();
  return { deployments, wentLive: new Set(live.map((r) => r.deployment_id)) };
}

/** Deployments not finished yet, across apps, oldest first: the build queue. */
export interface QueueEntry {
  deployment: Pick<Deployment, "id" | "app_id" | "environment" | "sha" | "state" | "created_at" | "started_at" | "built_at" | "dispatched_at" | "actor">;
  app: App;
}

export async function buildQueue(db: Db, limit = 500): Promise<QueueEntry[]> {
  const rows = await db
    .selectFrom("deployments")
    .select(["id", "app_id", "environment", "sha", "state", "created_at", "started_at", "built_at", "dispatched_at", "actor"])
    .where("state", "in", ["queued", "waiting", "building", "releasing"])
    .orderBy("id")
    .limit(limit)
    .execute();
  const appIds = [...new Set(rows.map((r) => r.app_id))];
  const apps = appIds.length === 0 ? [] : await db.selectFrom("apps").selectAll().where("id", "in", appIds).execute();
  const byId = new Map(apps.map((a) => [a.id, a]));
  return rows.map((deployment) => ({ deployment, app: byId.get(deployment.app_id)! }));
}

/** Records who caused a deployment started from the dashboard. */
export async function setActor(db: Db, deploymentId: number, actor: string): Promise<void> {
  await db.updateTable("deployments").set({ actor: actor.slice(0, 100) }).where("id", "=", deploymentId).execute();
}
