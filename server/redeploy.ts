import { UserError } from "../core/errors.js";
import { PRODUCTION, prNumberOf, publicName } from "../core/names.js";
import { isSha } from "../github/source-url.js";
import type { App, Deployment } from "../store/db.js";
import { getEnvironment } from "../store/environment-store.js";
import { liveRelease } from "../store/queries.js";
import { startDeployment, type WebhookDeps } from "./start-deployment.js";

/** A redeploy that cannot be done as asked: the API answers with this status and message. */
export class RedeployRefused extends UserError {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Builds and releases a commit of an environment again, as a new deployment: the given sha, or the
 * commit the environment runs now. Production takes any commit; a preview must be open (reopening the
 * pull request brings a closed one back), and a fork's preview builds only the commit a writer
 * approved. The API, the check run's Re-run and its Redeploy button all come here.
 */
export async function redeploy(deps: WebhookDeps, app: App, o: { environment: string; sha?: string; deliveryId: string }): Promise<Deployment> {
  if (o.sha !== undefined && !isSha(o.sha)) throw new RedeployRefused(400, "sha must be a full 40-character commit id.");
  const env = o.environment === PRODUCTION ? undefined : prNumberOf(o.environment) === undefined ? null : await getEnvironment(deps.db, app.id, o.environment);
  if (env === null || (o.environment !== PRODUCTION && !env)) throw new RedeployRefused(404, `${publicName(app)} has no environment ${o.environment}.`);
  if (env && env.state !== "open") throw new RedeployRefused(409, `${o.environment} was ${env.state}; reopen its pull request to bring the preview back.`);
  const live = await liveRelease(deps.db, app.id, o.environment);
  // The commit's ref and URL as its last deployment in this environment had them.
  const last = await deps.db
    .selectFrom("deployments")
    .selectAll()
    .where("app_id", "=", app.id)
    .where("environment", "=", o.environment)
    .$if(live !== undefined, (q) => q.where("id", "=", live!.deployment_id))
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  const sha = o.sha ?? (live ? last?.sha : undefined);
  if (!sha) throw new RedeployRefused(404, `${o.environment} of ${publicName(app)} runs nothing yet: name the commit to build ({"sha": "…"}).`);
  if (env?.fork && env.approved_sha !== sha) throw new RedeployRefused(409, `${sha.slice(0, 7)} of this fork was never approved: a writer adds the label berth:preview to build it.`);
  const ref = last?.ref ?? (o.environment === PRODUCTION ? `refs/heads/${app.default_branch}` : `refs/pull/${prNumberOf(o.environment)}/head`);
  const cloneUrl = last?.clone_url ?? `https://github.com/${app.repo_full_name}.git`; // recorded only: builds fetch from the configured GitHub
  const d = await startDeployment(deps, app, { environment: o.environment, sha, ref, cloneUrl, deliveryId: o.deliveryId });
  if (!d) throw new RedeployRefused(409, "This request was already taken.");
  return d;
}
