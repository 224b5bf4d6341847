import type { Context } from "probot";

type PushEvent = Context<"push">["payload"];
import type { Db } from "../core/db.js";
import type { DeploymentReporter } from "../core/deployment-reporter.js";
import type { Logger } from "../core/logger.js";
import { appNameFromRepo, environmentName } from "../core/names.js";
import { buildJobId, type Queues } from "../core/queue.js";
import { findAppByName, recordDeployment, upsertApp } from "../core/store.js";

export interface PushDeps {
  db: Db;
  queues: Pick<Queues, "build">;
  reporter: DeploymentReporter;
  log: Logger;
}

export type PushOutcome = "queued" | "duplicate" | "ignored";

const ZERO_SHA = /^0+$/;

/**
 * A push to the default branch becomes a production deployment: recorded once per delivery, a queued
 * `berth` check run, a build job. Branch deletions, tags and other branches are ignored.
 */
export async function handlePush(deps: PushDeps, deliveryId: string, payload: PushEvent): Promise<PushOutcome> {
  const repo = payload.repository;
  if (payload.deleted || ZERO_SHA.test(payload.after) || !payload.installation) return "ignored";
  if (payload.ref !== `refs/heads/${repo.default_branch}`) return "ignored";

  const app = await upsertApp(deps.db, {
    name: await uniqueAppName(deps.db, repo.name, repo.owner?.login ?? repo.full_name.split("/")[0] ?? "", String(repo.id)),
    repoFullName: repo.full_name,
    repoId: String(repo.id),
    installationId: String(payload.installation.id),
    defaultBranch: repo.default_branch,
  });
  const deployment = await recordDeployment(deps.db, app.id, {
    environment: environmentName(),
    sha: payload.after,
    ref: payload.ref,
    cloneUrl: repo.clone_url,
    deliveryId,
  });
  if (!deployment) {
    deps.log.info({ deliveryId }, "push redelivered; already recorded");
    return "duplicate";
  }
  deps.reporter.queued(app, deployment);
  await deps.queues.build.add("build", { deploymentId: deployment.id, sha: deployment.sha }, { jobId: buildJobId(deployment.id, deployment.sha) });
  deps.log.info({ app: app.name, sha: payload.after, deploymentId: deployment.id }, "push queued for build");
  return "queued";
}

/** The repository name made DNS-safe; prefixed with the owner when another repository already has it. */
async function uniqueAppName(db: Db, repoName: string, owner: string, repoId: string): Promise<string> {
  const name = appNameFromRepo(repoName);
  const holder = await findAppByName(db, name);
  if (!holder || holder.repo_id === repoId) return name;
  return appNameFromRepo(`${owner}-${repoName}`);
}
