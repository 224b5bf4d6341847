import { sql } from "kysely";
import type { App, Db, Deployment, Environment, EnvironmentState } from "./db.js";

export interface PreviewInput {
  appId: number;
  name: string;
  prNumber: number;
  headSha: string;
  headRepo: string;
  fork: boolean;
  /** Opened by a bot (GitHub's user.type Bot): its code is treated like a fork's for secrets. */
  authorBot?: boolean;
}

/** Opens (or reopens) a preview environment at a new head; a push resets its expiry clock. */
export async function openPreview(db: Db, input: PreviewInput): Promise<Environment> {
  return db
    .insertInto("environments")
    .values({
      app_id: input.appId,
      name: input.name,
      pr_number: input.prNumber,
      head_sha: input.headSha,
      head_repo: input.headRepo,
      fork: input.fork,
      author_bot: input.authorBot ?? false,
      state: "open",
    })
    .onConflict((oc) =>
      oc.columns(["app_id", "name"]).doUpdateSet({
        state: "open",
        head_sha: input.headSha,
        head_repo: input.headRepo,
        fork: input.fork,
        author_bot: input.authorBot ?? false,
        last_push_at: sql`now()`,
        closed_at: null,
        torn_down_at: null,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Records that a writer approved this commit of a fork's preview. */
export async function approveHead(db: Db, appId: number, name: string, sha: string): Promise<void> {
  await db.updateTable("environments").set({ approved_sha: sha }).where("app_id", "=", appId).where("name", "=", name).execute();
}

export async function getEnvironment(db: Db, appId: number, name: string): Promise<Environment | undefined> {
  return db.selectFrom("environments").selectAll().where("app_id", "=", appId).where("name", "=", name).executeTakeFirst();
}

/** Marks an environment closed or expired; returns it if this call changed it (so teardown runs once per close). */
export async function closeEnvironment(db: Db, appId: number, name: string, state: Exclude<EnvironmentState, "open">): Promise<Environment | undefined> {
  return db
    .updateTable("environments")
    .set({ state, closed_at: sql`now()`, torn_down_at: null })
    .where("app_id", "=", appId)
    .where("name", "=", name)
    .where("state", "=", "open")
    .returningAll()
    .executeTakeFirst();
}

/** Marks a closed environment torn down; one reopened meanwhile stays open and waiting for its next close. */
export async function markTornDown(db: Db, id: number): Promise<void> {
  await db.updateTable("environments").set({ torn_down_at: sql`now()` }).where("id", "=", id).where("state", "!=", "open").execute();
}

export async function setCommentId(db: Db, id: number, commentId: string): Promise<void> {
  await db.updateTable("environments").set({ comment_id: commentId }).where("id", "=", id).execute();
}

/** Open previews with their app, for the reconciler. */
export async function openPreviews(db: Db): Promise<{ env: Environment; app: App }[]> {
  const rows = await db.selectFrom("environments").selectAll().where("state", "=", "open").where("pr_number", "is not", null).execute();
  return withApps(db, rows);
}

/** Closed or expired previews whose teardown has not completed (a crash, a failed pass). */
export async function pendingTeardowns(db: Db): Promise<{ env: Environment; app: App }[]> {
  const rows = await db.selectFrom("environments").selectAll().where("state", "!=", "open").where("torn_down_at", "is", null).execute();
  return withApps(db, rows);
}

async function withApps(db: Db, envs: Environment[]): Promise<{ env: Environment; app: App }[]> {
  if (envs.length === 0) return [];
  const apps = await db.selectFrom("apps").selectAll().where("id", "in", [...new Set(envs.map((e) => e.app_id))]).execute();
  const byId = new Map(apps.map((a) => [a.id, a]));
  return envs.flatMap((env) => {
    const app = byId.get(env.app_id);
    return app ? [{ env, app }] : [];
  });
}

/**
 * Cancels an environment's deployments older than `newerThan` that have not started releasing; returns
 * them so their check runs can say so and their builds can be stopped.
 */
export async function supersedeOlder(db: Db, appId: number, environment: string, newerThan: number): Promise<Deployment[]> {
  return db
    .updateTable("deployments")
    .set({ state: "cancelled", error: "Superseded by a newer commit.", finished_at: sql`now()` })
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where("id", "<", newerThan)
    .where("state", "in", ["queued", "building", "waiting"])
    .returningAll()
    .execute();
}

/**
 * The newest deployment of an environment that has (or will have: its report may still be in the
 * outbox) a GitHub Deployment, to mark inactive on teardown. Deployments get one when they start.
 */
export async function latestReported(db: Db, appId: number, environment: string): Promise<Deployment | undefined> {
  return db
    .selectFrom("deployments")
    .selectAll()
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where((eb) => eb.or([eb("github_deployment_id", "is not", null), eb("started_at", "is not", null)]))
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
}

/**
 * The images of an environment's finished deployments, for its teardown. An image a deployment still
 * building or releasing uses is left out: that deployment came after the teardown began (a reopen).
 */
export async function environmentImages(db: Db, appId: number, environment: string): Promise<string[]> {
  const rows = await db
    .selectFrom("deployments")
    .select(["image", "state"])
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where("image", "is not", null)
    .execute();
  const inFlight = new Set(rows.filter((r) => IN_FLIGHT.has(r.state)).map((r) => r.image));
  return [...new Set(rows.map((r) => r.image ?? ""))].filter((i) => !inFlight.has(i));
}

const IN_FLIGHT: ReadonlySet<string> = new Set(["queued", "building", "releasing"]);
