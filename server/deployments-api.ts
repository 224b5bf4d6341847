import { randomUUID } from "node:crypto";
import type { Sensitive } from "../core/sensitive.js";
import { PRODUCTION, publicName } from "../core/names.js";
import type { Db, Deployment } from "../store/db.js";
import { findAppByName, getDeployment } from "../store/queries.js";
import { apiAllowed } from "./admin-session.js";
import { CancelRefused, cancelDeployment } from "./cancel-deployment.js";
import { RedeployRefused, redeploy } from "./redeploy.js";
import { readJson, sendError, sendJson, type Route } from "./respond.js";
import type { WebhookDeps } from "./start-deployment.js";

const brief = (d: Deployment) => ({ id: d.id, environment: d.environment, sha: d.sha, state: d.state });

/**
 * Deployments an operator starts or stops through the API (admin bearer token):
 * `POST /api/v1/apps/{app}/deployments` with `{"environment": "production"}` builds and releases the
 * commit the environment runs again, with `"sha"` that commit instead; `POST
 * /api/v1/deployments/{id}/cancel` stops one not yet releasing. Absent deps (no GitHub App yet): 409.
 */
export function deploymentsApiRoutes(db: Db, token: Sensitive | undefined, deps: WebhookDeps | undefined): Route {
  return async (req, res, url) => {
    if (req.method !== "POST") return false;
    const path = url.pathname.replace(/\/+$/, "");
    const create = /^\/api\/v1\/apps\/([a-z0-9-]+)\/deployments$/.exec(path);
    const cancel = /^\/api\/v1\/deployments\/(\d{1,9})\/cancel$/.exec(path);
    if (!create && !cancel) return false;
    if (!apiAllowed(req, res, token)) return true;
    const fail = (status: number, message: string): true => {
      sendError(res, status, message);
      return true;
    };
    if (!deps) return fail(409, "This berth has no GitHub App configured, so it cannot build: finish /setup first.");
    try {
      if (create) {
        const app = await findAppByName(db, create[1] ?? "");
        if (!app) return fail(404, `No app named ${create[1]}; GET /api/v1/apps lists them.`);
        const body = ((await readJson(req, 4096)) ?? {}) as { environment?: unknown; sha?: unknown };
        const environment = body.environment ?? PRODUCTION;
        if (typeof body !== "object" || typeof environment !== "string" || (body.sha !== undefined && typeof body.sha !== "string")) {
          return fail(400, 'Send {"environment": "production" | "pr-<N>"} and optionally {"sha": "<40 hex>"}.');
        }
        const d = await redeploy(deps, app, { environment, sha: body.sha as string | undefined, deliveryId: `api-${randomUUID()}` });
        sendJson(res, 202, brief(d));
        return true;
      }
      const found = await getDeployment(db, Number(cancel![1]));
      if (!found) return fail(404, `No deployment ${cancel![1]}.`);
      const d = await cancelDeployment(deps, found.app, found.deployment, "an operator (API)");
      deps.log.info({ app: publicName(found.app), deploymentId: d.id }, "cancelled through the API");
      sendJson(res, 202, brief(d));
      return true;
    } catch (e) {
      if (!(e instanceof RedeployRefused) && !(e instanceof CancelRefused)) throw e;
      sendError(res, e.status, e.message);
      return true;
    }
  };
}
