import { randomUUID } from "node:crypto";
import { PRODUCTION, publicName } from "../core/names.js";
import { allows } from "../github/user-client.js";
import type { Db, Deployment } from "../store/db.js";
import { getDeployment } from "../store/queries.js";
import type { ApiAuth } from "./api-auth.js";
import type { ApiRoute } from "./api-router.js";
import { APP_PARAM, DEPLOYMENT_BRIEF, ID_PARAM, err, json } from "./api-schemas.js";
import { CancelRefused, cancelDeployment } from "./cancel-deployment.js";
import { RedeployRefused, redeploy } from "./redeploy.js";
import { sendError, sendJson } from "./respond.js";
import type { WebhookDeps } from "./start-deployment.js";

const brief = (d: Deployment) => ({ id: d.id, environment: d.environment, sha: d.sha, state: d.state });
const NO_APP = "This berth has no GitHub App configured, so it cannot build: finish /setup first.";

/**
 * Deployments an operator starts or stops through the API:
 * `POST /api/v1/apps/{app}/deployments` with `{"environment": "production"}` builds and releases the
 * commit the environment runs again, with `"sha"` that commit instead; `POST
 * /api/v1/deployments/{id}/cancel` stops one not yet releasing. Absent deps (no GitHub App yet): 409.
 */
export function deploymentsApiRoutes(db: Db, auth: ApiAuth, deps: WebhookDeps | undefined): ApiRoute[] {
  const refused = (res: Parameters<typeof sendError>[0], e: unknown): void => {
    if (!(e instanceof RedeployRefused) && !(e instanceof CancelRefused)) throw e;
    sendError(res, e.status, e.message);
  };
  return [
    {
      method: "POST", path: "/api/v1/apps/{app}/deployments", auth: "write", params: { app: APP_PARAM },
      summary: "Build and release a commit again: the environment's live one, or the given sha",
      body: {
        schema: { type: "object", properties: { environment: { type: "string", maxLength: 20, description: "production (default) or pr-<N>" }, sha: { type: "string", maxLength: 40, description: "40 hex characters" } }, additionalProperties: false },
        maxBytes: 4096,
        optional: true,
        example: { environment: "production" },
        invalid: 'Send {"environment": "production" | "pr-<N>"} and optionally {"sha": "<40 hex>"}.',
      },
      responses: { 202: json("the new deployment, queued", DEPLOYMENT_BRIEF), 400: err("a bad body or sha"), 404: err("no such app or environment, or nothing to redeploy"), 409: err("the preview is closed, the fork commit unapproved, or no GitHub App") },
      handle: async ({ res, app, body, caller }) => {
        if (!deps) return sendError(res, 409, NO_APP);
        const b = (body ?? {}) as { environment?: string; sha?: string };
        try {
          const d = await redeploy(deps, app, { environment: b.environment ?? PRODUCTION, sha: b.sha, deliveryId: `api-${randomUUID()}` });
          deps.log.info({ app: publicName(app), deploymentId: d.id, by: caller.login }, "redeployed through the API");
          sendJson(res, 202, brief(d));
        } catch (e) {
          refused(res, e);
        }
      },
    },
    {
      method: "POST", path: "/api/v1/deployments/{id}/cancel", auth: "read", params: { id: ID_PARAM },
      summary: "Cancel a deployment that is queued, waiting or building (write access to its app)",
      responses: { 202: json("the cancelled deployment", DEPLOYMENT_BRIEF), 403: err("no write access to the app"), 404: err("no such deployment"), 409: err("it is releasing or done already, or no GitHub App") },
      handle: async ({ res, params, caller }) => {
        if (!deps) return sendError(res, 409, NO_APP);
        const found = await getDeployment(db, Number(params.id));
        const access = found ? await auth.access(caller, found.app) : "none"; // a sign-in GitHub ended: 401 from the router
        if (!found || !allows(access, "read")) return sendError(res, 404, `No deployment ${params.id}.`);
        if (!allows(access, "write")) return sendError(res, 403, `You can read ${publicName(found.app)}'s repository but not write to it, which cancelling needs.`);
        try {
          const d = await cancelDeployment(deps, found.app, found.deployment, caller.admin ? "an operator (API)" : `${caller.login} (API)`);
          deps.log.info({ app: publicName(found.app), deploymentId: d.id }, "cancelled through the API");
          sendJson(res, 202, brief(d));
        } catch (e) {
          refused(res, e);
        }
      },
    },
  ];
}
