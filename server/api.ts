import { timingSafeEqual } from "node:crypto";
import type { Db } from "../core/db.js";
import type { SecretBox } from "../core/secret-box.js";
import { deleteSecret, listSecretNames, putSecret } from "../core/secret-store.js";
import { Sensitive } from "../core/sensitive.js";
import { findAppByName, listApps, listDeployments } from "../core/store.js";
import { readJson, sendError, sendJson, type Route } from "./respond.js";

const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** The REST API under /api/v1, for the admin bearer token. */
export function apiRoutes(db: Db, token: Sensitive | undefined, box?: SecretBox): Route {
  return async (req, res, url) => {
    if (!url.pathname.startsWith("/api/v1/") && url.pathname !== "/api/v1") return false;
    if (!token) {
      sendError(res, 403, "The API is disabled: set BERTH_API_TOKEN on the berth server to enable it.");
      return true;
    }
    if (!authorized(req.headers.authorization, token)) {
      res.setHeader("www-authenticate", 'Bearer realm="berth"');
      sendError(res, 401, "Send Authorization: Bearer <BERTH_API_TOKEN>.");
      return true;
    }
    const path = url.pathname.replace(/\/+$/, "");
    if (req.method === "GET" && path === "/api/v1/apps") {
      const apps = await listApps(db);
      sendJson(res, 200, apps.map((a) => ({ name: a.name, repository: a.repo_full_name, defaultBranch: a.default_branch, createdAt: a.created_at })));
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
        await putSecret(db, box, app.id, name, new Sensitive(body.value));
        res.writeHead(204).end();
        return true;
      }
      if (req.method === "DELETE" && name) {
        if (await deleteSecret(db, app.id, name)) res.writeHead(204).end();
        else sendError(res, 404, `App ${app.name} has no secret ${name}.`);
        return true;
      }
    }
    const m = /^\/api\/v1\/apps\/([a-z0-9-]+)\/deployments$/.exec(path);
    if (req.method === "GET" && m) {
      const app = await findAppByName(db, m[1] ?? "");
      if (!app) {
        sendError(res, 404, `No app named ${m[1]}; GET /api/v1/apps lists them.`);
        return true;
      }
      const rows = await listDeployments(db, app.id, Math.min(Number(url.searchParams.get("limit") ?? 50) || 50, 500));
      sendJson(res, 200, rows.map((d) => ({
        id: d.id,
        environment: d.environment,
        sha: d.sha,
        state: d.state,
        url: d.url,
        image: d.image,
        error: d.error,
        createdAt: d.created_at,
        finishedAt: d.finished_at,
      })));
      return true;
    }
    sendError(res, 404, `No API route ${req.method} ${path}.`);
    return true;
  };
}

function authorized(header: string | undefined, token: Sensitive): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(token.unwrap());
  return given.length === want.length && timingSafeEqual(given, want);
}
