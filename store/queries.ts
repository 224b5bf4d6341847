import { sql } from "kysely";
import type { App, Db, Deployment, DeploymentState, PathRoute, Release } from "./db.js";

/** The app a push belongs to, as recorded from the webhook. */
export interface AppInput {
  name: string;
  repoFullName: string;
  repoId: string;
  installationId: string;
  defaultBranch: string;
  /** The repository's visibility, when the event or API call said; absent: kept as it was. */
  private?: boolean;
}

export interface DeploymentInput {
  environment: string;
  /** `waiting` records a fork's commit that needs approval before it is built. */
  state?: "queued" | "waiting";
  /** Paths the push changed, for build.watch; null or absent when unknown. */
  changedPaths?: string[] | null;
  sha: string;
  ref: string;
  cloneUrl: string;
  deliveryId: string;
  /** When berth received the webhook (ms since the epoch): the deployment's first phase. */
  receivedAt?: number;
  /** Who caused it (the webhook's sender login), for the dashboard. */
  actor?: string;
}

/** Creates the app on first sight and keeps its repository facts current (renames, transfers). */
export async function upsertApp(db: Db, input: AppInput): Promise<App> {
  return db
    .insertInto("apps")
    .values({
      name: input.name,
      repo_full_name: input.repoFullName,
      repo_id: input.repoId,
      installation_id: input.installationId,
      default_branch: input.defaultBranch,
      ...(input.private !== undefined ? { private: input.private } : {}),
    })
    .onConflict((oc) =>
      oc.column("repo_id").doUpdateSet({
        repo_full_name: input.repoFullName,
        installation_id: input.installationId,
        default_branch: input.defaultBranch,
        ...(input.private !== undefined ? { private: input.private } : {}),
        archived_at: null, // installed again, or pushed to: it is back
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Records a deployment once per webhook delivery; returns undefined for a redelivery already recorded. */
export async function recordDeployment(db: Db, appId: number, input: DeploymentInput): Promise<Deployment | undefined> {
  return db
    .insertInto("deployments")
    .values({
      app_id: appId,
      environment: input.environment,
      sha: input.sha,
      ref: input.ref,
      clone_url: input.cloneUrl,
      delivery_id: input.deliveryId,
      state: input.state ?? "queued",
      changed_paths: input.changedPaths ? JSON.stringify(input.changedPaths) : null,
      phases: input.receivedAt === undefined ? undefined : JSON.stringify({ received: input.receivedAt }),
      actor: input.actor && /^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$/.test(input.actor) ? input.actor : null,
    })
    .onConflict((oc) => oc.column("delivery_id").doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function getDeployment(db: Db, id: number): Promise<{ deployment: Deployment; app: App } | undefined> {
  const deployment = await db.selectFrom("deployments").selectAll().where("id", "=", id).executeTakeFirst();
  if (!deployment) return undefined;
  const app = await db.selectFrom("apps").selectAll().where("id", "=", deployment.app_id).executeTakeFirstOrThrow();
  return { deployment, app };
}

/**
 * Moves a deployment from one of the expected states to the next; false when it was elsewhere
 * (cancelled by a newer commit meanwhile), so the caller stops instead of overwriting that.
 */
export async function transition(db: Db, id: number, from: DeploymentState[], to: DeploymentState, extra: Partial<Pick<Deployment, "image" | "error" | "built_on">> = {}): Promise<boolean> {
  const stamps: Record<string, unknown> = {};
  if (to === "building") stamps.started_at = sql`coalesce(started_at, now())`;
  if (to === "releasing") stamps.built_at = sql`now()`;
  const r = await db.updateTable("deployments").set({ state: to, ...extra, ...stamps }).where("id", "=", id).where("state", "in", from).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Moves a deployment to a new state, stamping the matching timestamp. */
export async function setDeploymentState(
  db: Db,
  id: number,
  state: DeploymentState,
  extra: Partial<Pick<Deployment, "error" | "image" | "url" | "check_run_id" | "github_deployment_id">> = {},
): Promise<void> {
  const stamps: Record<string, unknown> = {};
  if (state === "building") stamps.started_at = sql`coalesce(started_at, now())`;
  if (state === "releasing") stamps.built_at = sql`now()`;
  if (["live", "failed", "cancelled", "removed", "skipped"].includes(state)) stamps.finished_at = sql`now()`;
  await db.updateTable("deployments").set({ state, ...extra, ...stamps }).where("id", "=", id).execute();
}

export async function setDeploymentGitHubIds(db: Db, id: number, ids: { checkRunId?: string; githubDeploymentId?: string }): Promise<void> {
  const set: Record<string, string> = {};
  if (ids.checkRunId) set.check_run_id = ids.checkRunId;
  if (ids.githubDeploymentId) set.github_deployment_id = ids.githubDeploymentId;
  if (Object.keys(set).length > 0) await db.updateTable("deployments").set(set).where("id", "=", id).execute();
}

export async function appendBuildLog(db: Db, deploymentId: number, chunk: string): Promise<void> {
  await db.insertInto("build_logs").values({ deployment_id: deploymentId, chunk }).execute();
}

export async function readBuildLog(db: Db, deploymentId: number): Promise<string> {
  const rows = await db.selectFrom("build_logs").select("chunk").where("deployment_id", "=", deploymentId).orderBy("id").execute();
  return rows.map((r) => r.chunk).join("");
}

/** The live release of an app environment, if any. */
export async function liveRelease(db: Db, appId: number, environment: string): Promise<Release | undefined> {
  return db
    .selectFrom("releases")
    .selectAll()
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where("state", "=", "live")
    .executeTakeFirst();
}

/** Every live route on a droid server (or, with "draining", those of releases switched away from and not yet stopped). */
export async function liveRoutes(db: Db, server: string, state: "live" | "draining" = "live"): Promise<{ hostname: string; upstream: string; paths?: PathRoute[]; redirect?: string }[]> {
  const rows = await db
    .selectFrom("releases")
    .select(["hostname", "upstream", "routes"])
    .where("server", "=", server)
    .where("state", "=", state)
    .where("upstream", "is not", null)
    .orderBy("id", "desc")
    .execute();
  // Production's verified custom domains go where its hostname goes, or redirect to another of them.
  const domains = await db
    .selectFrom("domains")
    .innerJoin("releases", (j) => j.onRef("releases.app_id", "=", "domains.app_id").on("releases.environment", "=", "production").on("releases.state", "=", state))
    .select(["domains.name", "domains.redirect_to", "releases.upstream", "releases.routes"])
    .where("releases.server", "=", server)
    .where("domains.verified", "=", true)
    .where("releases.upstream", "is not", null)
    .orderBy("releases.id", "desc")
    .execute();
  return [
    ...rows.map((r) => ({ hostname: r.hostname, upstream: r.upstream ?? "", ...(r.routes?.length ? { paths: r.routes } : {}) })),
    ...domains.map((d) => (d.redirect_to ? { hostname: d.name, upstream: "", redirect: d.redirect_to } : { hostname: d.name, upstream: d.upstream ?? "", ...(d.routes?.length ? { paths: d.routes } : {}) })),
  ];
}

/** Hostnames live on servers other than this one, with their server: what the front door forwards. */
export async function remoteHostnames(db: Db, server: string): Promise<{ hostname: string; server: string }[]> {
  const hosts = await db.selectFrom("releases").select(["hostname", "server"]).distinct().where("server", "!=", server).where("state", "=", "live").orderBy("hostname").execute();
  const domains = await db
    .selectFrom("domains")
    .innerJoin("releases", (j) => j.onRef("releases.app_id", "=", "domains.app_id").on("releases.environment", "=", "production").on("releases.state", "=", "live"))
    .select(["domains.name as hostname", "releases.server"])
    .where("releases.server", "!=", server)
    .where("domains.verified", "=", true)
    .execute();
  return [...hosts, ...domains];
}

export async function listApps(db: Db): Promise<App[]> {
  return db.selectFrom("apps").selectAll().orderBy("name").execute();
}

export async function listDeployments(db: Db, appId: number, limit = 50): Promise<Deployment[]> {
  return db.selectFrom("deployments").selectAll().where("app_id", "=", appId).orderBy("id", "desc").limit(limit).execute();
}

/** The app a name means: its public name (berth.yaml's `name`) first, else its first name. */
export async function findAppByName(db: Db, name: string): Promise<App | undefined> {
  const rows = await db.selectFrom("apps").selectAll().where((eb) => eb.or([eb("public_name", "=", name), eb("name", "=", name)])).execute();
  return rows.find((a) => a.public_name === name) ?? rows[0];
}

/** The app environments that have a live (or draining, still routed) release on a droid server, as [app name, environment]. */
export async function liveEnvironments(db: Db, server: string): Promise<{ app: string; environment: string }[]> {
  return db
    .selectFrom("releases")
    .innerJoin("apps", "apps.id", "releases.app_id")
    .select(["apps.name as app", "releases.environment as environment"])
    .distinct()
    .where("releases.server", "=", server)
    .where("releases.state", "in", ["live", "draining"])
    .execute();
}

/** Whether berth serves a hostname: an environment's (starting, live or draining) or a verified custom domain. */
export async function knownHostname(db: Db, hostname: string): Promise<boolean> {
  const release = await db.selectFrom("releases").select("id").where("hostname", "=", hostname).where("state", "in", ["starting", "live", "draining"]).limit(1).executeTakeFirst();
  if (release) return true;
  return Boolean(await db.selectFrom("domains").select("id").where("name", "=", hostname).where("verified", "=", true).executeTakeFirst());
}
