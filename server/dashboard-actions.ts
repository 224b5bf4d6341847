import { randomUUID } from "node:crypto";
import { PRODUCTION, publicName } from "../core/names.js";
import { allows } from "../github/user-client.js";
import { RollbackRefused } from "../jobs/rollback.js";
import type { App, Db, Deployment } from "../store/db.js";
import { setActor } from "../store/dashboard-queries.js";
import { findAppByName, getDeployment } from "../store/queries.js";
import { CancelRefused, cancelDeployment } from "./cancel-deployment.js";
import { SessionEnded, type DashboardAuth } from "./dashboard-auth.js";
import { sendProblem } from "./login-routes.js";
import { RedeployRefused, redeploy } from "./redeploy.js";
import { readForm, type Route } from "./respond.js";
import type { WebhookDeps } from "./start-deployment.js";

export interface DashboardActionDeps {
  /** Absent while no GitHub App is configured: nothing can be built or released. */
  webhooks: WebhookDeps | undefined;
  rollback: ((app: App, deploymentId: number) => Promise<Deployment>) | undefined;
}

/**
 * The dashboard's buttons, as form posts: `POST /apps/{app}/redeploy` (environment, optional sha),
 * `POST /deployments/{id}/rollback`, `POST /deployments/{id}/cancel`. Each needs a session, its CSRF
 * token (403 without), and write access to the app's repository (403 for a reader, 404 for someone
 * who cannot read it); then it does what the API does (server/redeploy.ts, jobs/rollback.ts,
 * server/cancel-deployment.ts) and sends the browser to the deployment's page.
 */
export function dashboardActions(db: Db, auth: DashboardAuth, deps: DashboardActionDeps): Route {
  return async (req, res, url) => {
    if (req.method !== "POST") return false;
    const redeployMatch = /^\/apps\/([a-z0-9-]{1,63})\/redeploy$/.exec(url.pathname);
    const deploymentMatch = /^\/deployments\/(\d{1,9})\/(rollback|cancel)$/.exec(url.pathname);
    if (!redeployMatch && !deploymentMatch) return false;
    const viewer = await auth.viewer(req);
    if (!viewer) {
      sendProblem(res, 401, "Sign in first: open / and log in with GitHub.");
      return true;
    }
    const form = await readForm(req);
    if (!auth.csrfOk(viewer, form)) {
      sendProblem(res, 403, "This form was not sent from berth's own page (CSRF token missing or wrong). Reload the page and press the button again.");
      return true;
    }
    const found = redeployMatch ? await findAppByName(db, redeployMatch[1]!).then((app) => app && { app, deployment: undefined }) : await getDeployment(db, Number(deploymentMatch![1]));
    try {
      const access = found ? await auth.access(viewer, found.app) : "none";
      if (!found || !allows(access, "read")) {
        sendProblem(res, 404, "No such app or deployment, or none you can read.");
        return true;
      }
      if (!allows(access, "write")) {
        sendProblem(res, 403, `Redeploy, roll back and cancel need write access to ${found.app.repo_full_name}; your GitHub account can only read it.`);
        return true;
      }
      if (!deps.webhooks) {
        sendProblem(res, 409, "This berth has no GitHub App configured, so it cannot build or release: finish /setup first.");
        return true;
      }
      const { app, deployment } = found;
      const by = `${viewer.login} (dashboard)`;
      let done: Deployment;
      if (redeployMatch) {
        const environment = form?.get("environment") ?? PRODUCTION;
        const sha = form?.get("sha") || undefined;
        done = await redeploy(deps.webhooks, app, { environment, sha, deliveryId: `dashboard-${randomUUID()}` });
        await setActor(db, done.id, viewer.login);
      } else if (deploymentMatch![2] === "rollback") {
        if (!deps.rollback) throw new RollbackRefused(409, "This berth cannot release: no GitHub App is configured.");
        done = await deps.rollback(app, deployment!.id);
        await setActor(db, done.id, viewer.login);
      } else {
        done = await cancelDeployment(deps.webhooks, app, deployment!, by);
      }
      deps.webhooks.log.info({ app: publicName(app), deploymentId: done.id, by: viewer.login, action: redeployMatch ? "redeploy" : deploymentMatch![2] }, "dashboard action");
      res.writeHead(303, { location: `/deployments/${done.id}`, "cache-control": "no-store" }).end();
    } catch (e) {
      if (e instanceof SessionEnded) sendProblem(res, 401, "Your GitHub sign-in expired: log in again.");
      else if (e instanceof RedeployRefused || e instanceof RollbackRefused || e instanceof CancelRefused) sendProblem(res, e.status, e.message);
      else throw e;
    }
    return true;
  };
}
