import { sql } from "kysely";
import type { App, Db, Deployment } from "../store/db.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { UserError } from "../core/errors.js";
import { PRODUCTION, publicName } from "../core/names.js";
import { releaseJobId, type Queues } from "./queue.js";

export interface RollbackDeps {
  db: Db;
  queues: Pick<Queues, "release">;
  reporter: DeploymentReporter;
}

/** A rollback that cannot be done as asked: the API answers with this status and message. */
export class RollbackRefused extends UserError {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Puts an earlier production release back: a new deployment of that one's image, manifest and files,
 * straight to the release queue (no build), released like any other (health check, zero-drop switch)
 * and reported on its commit. Without a target, the release before the live one. Only a deployment
 * that once went live is a target: its image passed a health check before.
 */
export async function startRollback(deps: RollbackDeps, app: App, targetId?: number): Promise<Deployment> {
  const live = await deps.db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .select(["releases.image", "deployments.sha"])
    .where("releases.app_id", "=", app.id)
    .where("releases.environment", "=", PRODUCTION)
    .where("releases.state", "=", "live")
    .executeTakeFirst();
  // Another commit: a second build of the live commit (its own image tag) is no step back.
  const target = await wentLive(deps.db, app.id, targetId === undefined ? { notSha: live?.sha } : { id: targetId });
  if (!target) {
    throw new RollbackRefused(
      404,
      targetId === undefined
        ? `${publicName(app)} has no earlier production release of another commit to roll back to.`
        : `Deployment ${targetId} is not a production deployment of this app that went live; GET /api/v1/apps/{app}/deployments lists them.`,
    );
  }
  if (live && target.image === live.image) throw new RollbackRefused(409, `Deployment ${target.id} (${target.sha.slice(0, 7)}) is what production runs already.`);
  const d = await deps.db
    .insertInto("deployments")
    .values({
      app_id: app.id,
      environment: PRODUCTION,
      sha: target.sha,
      ref: target.ref,
      clone_url: target.clone_url,
      state: "releasing",
      image: target.image,
      manifest: target.manifest ? JSON.stringify(target.manifest) : null,
      files: target.files ? JSON.stringify(target.files) : null,
      started_at: sql`now()`,
      built_at: sql`now()`,
      rollback_of: target.id,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  deps.reporter.started(app, d, "Rolling back to");
  await deps.queues.release.add("release", { deploymentId: d.id, sha: d.sha }, { jobId: releaseJobId(d.id, d.sha) });
  return d;
}

/**
 * Production deployments of the app that once went live (their image passed a health check), newest
 * first: the one named, or the newest of a commit other than the live one's.
 */
async function wentLive(db: Db, appId: number, which: { id: number } | { notSha: string | undefined }): Promise<Deployment | undefined> {
  let q = db
    .selectFrom("deployments")
    .selectAll()
    .where("app_id", "=", appId)
    .where("environment", "=", PRODUCTION)
    .where("image", "is not", null)
    .where((eb) => eb.exists(eb.selectFrom("releases").select("releases.id").whereRef("releases.deployment_id", "=", "deployments.id").where("releases.state", "in", ["live", "draining", "stopped"])));
  q = "id" in which ? q.where("id", "=", which.id) : q.where("sha", "!=", which.notSha ?? "");
  return q.orderBy("id", "desc").executeTakeFirst();
}
