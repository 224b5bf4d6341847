import type { App, Db, Deployment, SecretScope } from "../store/db.js";
import { RollbackRefused } from "../jobs/rollback.js";
import type { SecretBox } from "../core/secret-box.js";
import { deleteSecret, listSecretNames, putSecret } from "../store/secret-store.js";
import { publicName } from "../core/names.js";
import { Sensitive } from "../core/sensitive.js";
import { allows } from "../github/user-client.js";
import { getDeployment, listApps, listDeployments } from "../store/queries.js";
import { phaseTimeline } from "../store/phases.js";
import { sendError, sendJson } from "./respond.js";
import type { ApiAuth } from "./api-auth.js";
import type { ApiRoute } from "./api-router.js";
import { APP, APP_PARAM, DEPLOYMENT, ID_PARAM, empty, err, int, json, list, obj, str } from "./api-schemas.js";

const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;
const SCOPE = { type: "string", enum: ["production", "previews"], description: "which value: production's (the default) or the previews'" } as const;
const noApp = err("no such app, or none the caller can read");

/** What the API does beyond reading and writing rows; absent where this process has no queues or GitHub. */
export interface ApiActions {
  /** Runs after an app's build limit changed: waiting builds may start now. */
  redispatch?: (appId: number) => Promise<unknown>;
  rollback?: (app: App, deploymentId?: number) => Promise<Deployment>;
}

/** Apps, their secrets, deployments and rollback under /api/v1. */
export function appRoutes(db: Db, auth: ApiAuth, box?: SecretBox, actions: ApiActions = {}): ApiRoute[] {
  const scopeOf = (url: URL): SecretScope | string => {
    const s = url.searchParams.get("scope") ?? "production";
    return s === "production" || s === "previews" ? s : `scope is production (the default) or previews; got ${JSON.stringify(s)}.`;
  };
  const secretName = (name: string): string | undefined =>
    SECRET_NAME.test(name) ? undefined : `Secret names are upper case letters, digits and underscores (like DB_PASSWORD); got ${JSON.stringify(name)}.`;
  return [
    {
      method: "GET", path: "/api/v1/apps", auth: "read", summary: "List the apps the caller can read",
      responses: { 200: json("the apps", list(APP)) },
      handle: async ({ res, caller }) => {
        const apps = await listApps(db);
        const access = await auth.accessAll(caller, apps);
        const shown = apps.filter((a) => allows(access.get(a.id) ?? "none", "read"));
        sendJson(res, 200, shown.map(appJson));
      },
    },
    {
      method: "GET", path: "/api/v1/apps/{app}", auth: "read", summary: "One app", params: { app: APP_PARAM },
      responses: { 200: json("the app", APP), 404: noApp },
      handle: async ({ res, app }) => sendJson(res, 200, appJson(app)),
    },
    {
      method: "PATCH", path: "/api/v1/apps/{app}", auth: "installation", summary: "Change an app's build limit (it draws on every app's build capacity: installation admins only)", params: { app: APP_PARAM },
      body: {
        schema: { type: "object", properties: { buildConcurrency: { type: ["integer", "null"], minimum: 1, maximum: 64 } }, required: ["buildConcurrency"], additionalProperties: false },
        maxBytes: 4096,
        example: { buildConcurrency: 2 },
        invalid: 'Send a JSON body {"buildConcurrency": N} with N from 1 to 64, or null for the server default (BERTH_APP_BUILD_CONCURRENCY).',
      },
      responses: { 200: json("the changed app", APP), 400: err("not a valid limit"), 404: noApp },
      handle: async ({ res, app, body }) => {
        const limit = (body as { buildConcurrency: number | null }).buildConcurrency;
        const updated = await db.updateTable("apps").set({ build_concurrency: limit }).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow();
        await actions.redispatch?.(app.id); // a raised limit starts waiting builds now, not at the next sweep
        sendJson(res, 200, appJson(updated));
      },
    },
    {
      method: "GET", path: "/api/v1/apps/{app}/secrets", auth: "write", summary: "Names of an app's secrets (never values)", params: { app: APP_PARAM },
      responses: { 200: json("secret names with their scopes", list({ type: "object" })), 404: noApp },
      handle: async ({ res, app }) => sendJson(res, 200, await listSecretNames(db, app.id)),
    },
    {
      method: "PUT", path: "/api/v1/apps/{app}/secrets/{name}", auth: "write", summary: "Set a secret's value", params: { app: APP_PARAM, name: { type: "string", description: "upper case letters, digits and underscores" } },
      query: { scope: SCOPE },
      body: { schema: { type: "object", properties: { value: { type: "string", maxLength: 65_536 } }, required: ["value"] }, maxBytes: 65_536 + 1024, example: { value: "s3cr3t" }, invalid: 'Send a JSON body {"value": "..."} of at most 64 KiB.' },
      responses: { 204: empty("stored, encrypted"), 400: err("a bad name, scope or body"), 404: noApp, 409: err("berth has no BERTH_SECRET_KEY") },
      handle: async ({ res, url, app, params, body }) => {
        const scope = scopeOf(url);
        const bad = secretName(params.name!) ?? (scope === "production" || scope === "previews" ? undefined : scope);
        if (bad) return sendError(res, 400, bad);
        if (!box) return sendError(res, 409, "berth has no BERTH_SECRET_KEY, so it cannot store secrets encrypted: set it (openssl rand -hex 32) and restart.");
        await putSecret(db, box, app.id, params.name!, new Sensitive((body as { value: string }).value), scope as SecretScope);
        res.writeHead(204).end();
      },
    },
    {
      method: "DELETE", path: "/api/v1/apps/{app}/secrets/{name}", auth: "write", summary: "Remove a secret's value", params: { app: APP_PARAM, name: { type: "string" } },
      query: { scope: SCOPE },
      responses: { 204: empty("removed"), 400: err("a bad name or scope"), 404: err("no such app or secret") },
      handle: async ({ res, url, app, params }) => {
        const scope = scopeOf(url);
        const bad = secretName(params.name!) ?? (scope === "production" || scope === "previews" ? undefined : scope);
        if (bad) return sendError(res, 400, bad);
        if (await deleteSecret(db, app.id, params.name!, scope as SecretScope)) res.writeHead(204).end();
        else sendError(res, 404, `App ${publicName(app)} has no ${scope} value of secret ${params.name}.`);
      },
    },
    {
      method: "POST", path: "/api/v1/apps/{app}/rollback", auth: "write", summary: "Release an earlier deployment again (the one before the live one by default)", params: { app: APP_PARAM },
      body: {
        schema: { type: "object", properties: { deployment: { type: "integer", minimum: 1 } }, additionalProperties: false },
        maxBytes: 4096,
        optional: true,
        example: { deployment: 41 },
        invalid: 'Send an empty body for the release before the live one, or {"deployment": <id>} (ids from GET /api/v1/apps/{app}/deployments).',
      },
      responses: { 202: json("the rollback deployment", obj({ id: int, environment: str, sha: str, state: str, image: { type: ["string", "null"] }, rollbackOf: { type: ["integer", "null"] } })), 400: err("a bad body"), 404: noApp, 409: err("nothing to roll back to, or no GitHub App") },
      handle: async ({ res, app, body }) => {
        if (!actions.rollback) return sendError(res, 409, "This berth has no GitHub App configured, so it cannot release: finish /setup first.");
        try {
          const d = await actions.rollback(app, (body as { deployment?: number } | undefined)?.deployment);
          sendJson(res, 202, { id: d.id, environment: d.environment, sha: d.sha, state: d.state, image: d.image, rollbackOf: d.rollback_of });
        } catch (e) {
          if (!(e instanceof RollbackRefused)) throw e;
          sendError(res, e.status, e.message);
        }
      },
    },
    {
      method: "GET", path: "/api/v1/apps/{app}/deployments", auth: "read", summary: "An app's deployments, newest first", params: { app: APP_PARAM },
      query: { limit: { type: "string", pattern: "^[0-9]{1,3}$", description: "at most this many (default 50, at most 500)" } },
      responses: { 200: json("deployments", list(DEPLOYMENT)), 404: noApp },
      handle: async ({ res, url, app }) => {
        const rows = await listDeployments(db, app.id, Math.min(Number(url.searchParams.get("limit") ?? 50) || 50, 500));
        sendJson(res, 200, rows.map(deploymentJson));
      },
    },
    {
      method: "GET", path: "/api/v1/apps/{app}/deployments/{id}", auth: "read", summary: "One deployment with its phases", params: { app: APP_PARAM, id: ID_PARAM },
      responses: { 200: json("the deployment", DEPLOYMENT), 404: err("no such app or deployment") },
      handle: async ({ res, app, params }) => {
        const found = await getDeployment(db, Number(params.id));
        if (found?.app.id === app.id) sendJson(res, 200, deploymentJson(found.deployment));
        else sendError(res, 404, `App ${publicName(app)} has no deployment ${params.id}; GET /api/v1/apps/${publicName(app)}/deployments lists them.`);
      },
    },
  ];
}

function deploymentJson(d: Deployment): Record<string, unknown> {
  return {
    id: d.id,
    environment: d.environment,
    sha: d.sha,
    state: d.state,
    url: d.url,
    image: d.image,
    error: d.error,
    rollbackOf: d.rollback_of,
    createdAt: d.created_at,
    startedAt: d.started_at,
    builtAt: d.built_at,
    finishedAt: d.finished_at,
    // Each phase reached: when, and the ms it took since the one before it and since the webhook.
    phases: phaseTimeline(d.phases).map((p) => ({ phase: p.phase, at: new Date(p.at).toISOString(), sincePreviousMs: p.sincePrevious, sinceStartMs: p.sinceStart })),
  };
}

function appJson(a: App): Record<string, unknown> {
  return { name: publicName(a), repository: a.repo_full_name, defaultBranch: a.default_branch, buildConcurrency: a.build_concurrency, archivedAt: a.archived_at, createdAt: a.created_at };
}
