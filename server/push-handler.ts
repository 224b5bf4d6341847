import type { Context } from "probot";
import { environmentName } from "../core/names.js";
import { appFor, invalidFields, startDeployment, type WebhookDeps } from "./start-deployment.js";

type PushEvent = Context<"push">["payload"];

export type PushOutcome = "queued" | "duplicate" | "ignored" | "refused";

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
  const bad = invalidFields({ sha: payload.after, fullName: repo.full_name });
  if (bad) {
    deps.log.warn({ deliveryId, field: bad }, "push refused: a field is not what GitHub sends");
    return "refused";
  }
  const app = await appFor(deps.db, repo, payload.installation.id);
  const d = await startDeployment(deps, app, {
    environment: environmentName(),
    sha: payload.after,
    ref: payload.ref,
    cloneUrl: repo.clone_url,
    deliveryId,
    changedPaths: changedPaths(payload),
    actor: payload.sender?.login,
  });
  return d ? "queued" : "duplicate";
}

// GitHub lists at most 20 commits in a push payload; past that, or for a new or force-pushed branch,
// the changed paths are unknown and the push builds whatever build.watch says.
const MAX_LISTED_COMMITS = 20;

/** Every path the push's commits added, modified or removed; null when the payload cannot tell. */
export function changedPaths(payload: Pick<PushEvent, "commits" | "created" | "forced">): string[] | null {
  if (payload.created || payload.forced || payload.commits.length === 0 || payload.commits.length >= MAX_LISTED_COMMITS) return null;
  const paths = new Set<string>();
  for (const c of payload.commits) for (const p of [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])]) paths.add(p);
  return [...paths].sort();
}
