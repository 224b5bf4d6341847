import type { App, Db, Deployment, SecretScope } from "../store/db.js";
import { RollbackRefused } from "../jobs/rollback.js";
import type { SecretBox } from "../core/secret-box.js";
import { deleteSecret, listSecretNames, putSecret } from "../store/secret-store.js";
import { publicName } from "../core/names.js";
import { Sensitive } from "../core/sensitive.js";
import { findAppByName, getDeployment, listApps, listDeployments } from "../store/queries.js";
import { phaseTimeline } from "../store/phases.js";
import { readJson, sendError, sendJson, type Route } from "./respond.js";
import { apiAllowed } from "./admin-session.js";

const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** What the API does beyond reading and writing rows; absent where this process has no queues or GitHub. */
export interface ApiActions {
  /** Runs after an app's build limit changed: waiting builds may start now. */
  redispatch?: (appId: number) => Promise<unknown>;
  rollback?: (app: App, deploymentId?: number) => Promise<Deployment>;
}

/** The REST API under /api/v1, for the admin bearer token. */
export function apiRoutes(db: Db, token: Sensitive | undefined, box?: SecretBox, actions: ApiActions = {}): Route {
  return async (req, res, url) => {
    if (!url.pathname.startsWith("/api/v1/") && url.pathname !== "/api/v1") return false;
    if (!apiAllowed(req, res, token)) return true;
    const path = url.pathname.replace(/\/+$/, "");
    if (req.method === "GET" && path === "/api/v1/apps") {
      const apps = await listApps(db);
      sendJson(res, 200, apps.map(appJson));
      return true;
    }
    const one = /^\/api\/v1\/apps\/([a-z0-9-]+)$/.exec(path);
    if (one && (req.method === "GET" || req.method === "PATCH")) {
      const app = await findAppByName(db, one[1] ?? "");
      if (!app) {
        sendError(res, 404, `No app named ${one[1]}; GET /api/v1/apps lists them.`);
        return true;
      }
      if (req.method === "GET") {
        sendJson(res, 200, appJson(app));
        return true;
      }
      const body = (await readJson(req, 4096)) as { buildConcurrency?: unknown } | undefined;
      const limit = body?.buildConcurrency;
      if (!body || Object.keys(body).some((k) => k !== "buildConcurrency") || !(limit === null || (Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= 64))) {
        sendError(res, 400, 'Send a JSON body {"buildConcurrency": N} with N from 1 to 64, or null for the server default (BERTH_APP_BUILD_CONCURRENCY).');
        return true;
      }
      const updated = await db.updateTable("apps").set({ build_concurrency: limit as number | null }).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow();
      await actions.redispatch?.(app.id); // a raised limit starts waiting builds now, not at the next sweep
      sendJson(res, 200, appJson(updated));
      return true;
    }
    const secret = /^\/api\/v1\/apps\/([a-z0-9-]+)\/secrets(?:\/([^/]+))?$/.exec(path);
    if (secret) {
      const app = await findAppByName(db, secret[1] ?? "");
      if (!app) {
        sendError(res, 404, `No app named ${secret[1]}; GET /api/v1/apps lists them.`);
        return true;
      }
      const name = secret[2] ? decodeURIComponent(secret[2]) : undefined;
      const scopeParam = url.searchParams.get("scope") ?? "production";
      if (scopeParam !== "production" && scopeParam !== "previews") {
        sendError(res, 400, `scope is production (the default) or previews; got ${JSON.stringify(scopeParam)}.`);
        return true;
      }
      const scope: SecretScope = scopeParam;
      if (req.method === "GET" && !name) {
        sendJson(res, 200, await listSecretNames(db, app.id));
        return true;
      }
      if (name && !SECRET_NAME.test(name)) {
        sendError(res, 400, `Secret names are upper case letters, digits and underscores (like DB_PASSWORD); got ${JSON.stringify(name)}.`);
        return true;
      }
      if (req.method === "PUT" && name) {
        if (!box) {
          sendError(res, 409, "berth has no BERTH_SECRET_KEY, so it cannot store secrets encrypted: set it (openssl rand -hex 32) and restart.");
          return true;
        }
        const body = (await readJson(req, 65_536)) as { value?: unknown } | undefined;
        if (typeof body?.value !== "string") {
          sendError(res, 400, 'Send a JSON body {"value": "..."} of at most 64 KiB.');
          return true;
        }
        await putSecret(db, box, app.id, name, new Sensitive(body.value), scope);
        res.writeHead(204).end();
        return true;
      }
      if (req.method === "DELETE" && name) {
        if (await deleteSecret(db, app.id, name, scope)) res.writeHead(204).end();
        else sendError(res, 404, `App ${publicName(app)} has no ${scope} value of secret ${name}.`);
        return true;
      }
    }
    const rollback = /^\/api\/v1\/apps\/([a-z0-9-]+)\/rollback$/.exec(path);
    if (rollback && req.method === "POST") {
      const app = await findAppByName(db, rollback[1] ?? "");
      if (!app) {
        sendError(res, 404, `No app named ${rollback[1]}; GET /api/v1/apps lists them.`);
        return true;
      }
      if (!actions.rollback) {
        sendError(res, 409, "This berth has no GitHub App configured, so it cannot release: finish /setup first.");
        return true;
      }
      const sent = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
      const parsed = await readJson(req, 4096);
      const body = (parsed ?? {}) as { deployment?: unknown };
      // An unreadable body must not turn into "roll back to the previous release".
      if ((sent && parsed === undefined) || typeof body !== "object" || (body.deployment !== undefined && !Number.isInteger(body.deployment))) {
        sendError(res, 400, 'Send an empty body for the release before the live one, or {"deployment": <id>} (ids from GET /api/v1/apps/{app}/deployments).');
        return true;
      }
      try {
        const d = await actions.rollback(app, body.deployment as number | undefined);
        sendJson(res, 202, { id: d.id, environment: d.environment, sha: d.sha, state: d.state, image: d.image, rollbackOf: d.rollback_of });
      } catch (e) {
        if (!(e instanceof RollbackRefused)) throw e;
        sendError(res, e.status, e.message);
      }
      return true;
    }
    const m = /^\/api\/v1\/apps\/([a-z0-9-]+)\/deployments(?:\/(\d+))?$/.exec(path);
    if (req.method === "GET" && m) {
      const app = await findAppByName(db, m[1] ?? "");
      if (!app) {
        sendError(res, 404, `No app named ${m[1]}; GET /api/v1/apps lists them.`);
        return true;
      }
      if (m[2]) {
        const found = await getDeployment(db, Number(m[2]));
        if (found?.app.id === app.id) sendJson(res, 200, deploymentJson(found.deployment));
        else sendError(res, 404, `App ${publicName(app)} has no deployment ${m[2]}; GET /api/v1/apps/${publicName(app)}/deployments lists them.`);
        return true;
      }
      const rows = await listDeployments(db, app.id, Math.min(Number(url.searchParams.get("limit") ?? 50) || 50, 500));
      sendJson(res, 200, rows.map(deploymentJson));
      return true;
    }
    sendError(res, 404, `No API route ${req.method} ${path}.`);
    return true;
  };
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


