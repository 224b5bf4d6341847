import type { Context } from "probot";
import { environmentName } from "../core/names.js";
import { appFor, startDeployment, type WebhookDeps } from "./start-deployment.js";

type PushEvent = Context<"push">["payload"];

export type PushOutcome = "queued" | "duplicate" | "ignored";

const ZERO_SHA = /^0+$/;

/**
 * A push to the default branch becomes a production deployment: recorded once per delivery, older
 * production commits still building superseded, a queued `berth` check run, a build job. Branch
 * deletions, tags and other branches are ignored.
 */
export async function handlePush(deps: WebhookDeps, deliveryId: string, payload: PushEvent): Promise<PushOutcome> {
  const repo = payload.repository;
  if (payload.deleted || ZERO_SHA.test(payload.after) || !payload.installation) return "ignored";
  if (payload.ref !== `refs/heads/${repo.default_branch}`) return "ignored";
  const app = await appFor(deps.db, repo, payload.installation.id);
  const d = await startDeployment(deps, app, {
    environment: environmentName(),
    sha: payload.after,
    ref: payload.ref,
    cloneUrl: repo.clone_url,
    deliveryId,
  });
  return d ? "queued" : "duplicate";
}
