import type { IncomingMessage, ServerResponse } from "node:http";
import { publicName } from "../core/names.js";
import type { SecretBox } from "../core/secret-box.js";
import { sameString } from "../core/session-token.js";
import { allows, type Access } from "../github/user-client.js";
import type { App, Db } from "../store/db.js";
import { hostAccesses, previewToken, rotatePreviewToken } from "../store/preview-access-store.js";
import { findAppByName } from "../store/queries.js";
import type { ApiAuth } from "./api-auth.js";
import { SessionEnded, type DashboardAuth } from "./dashboard-auth.js";
import { TOKEN_HEADER } from "./preview-gate.js";
import { sendError, sendJson, type Route } from "./respond.js";
import type { LegacyApiRoute } from "./api-router.js";
import { APP_PARAM, ENVIRONMENT, err, obj, str, time } from "./api-schemas.js";

const PATH = /^\/api\/v1\/apps\/([a-z0-9-]{1,63})\/environments\/(production|pr-\d{1,9})\/access-token$/;

/**
 * An environment's machine token for protected previews: `GET /api/v1/apps/{app}/environments/{env}/access-token`
 * shows it (made on first use), `POST` to the same path rotates it (the old one stops working). For
 * the admin token, or a dashboard session with write access to the repository (a POST from a session
 * also needs its CSRF token in `X-Berth-CSRF`, so no other site can rotate it).
 */
export function accessTokenRoutes(db: Db, auth: DashboardAuth, o: { apiAuth: ApiAuth; box: SecretBox | undefined }): LegacyApiRoute[] {
  const legacy = accessTokenRoute(db, auth, o);
  const token = obj({ app: str, environment: str, header: str, token: str, createdAt: time, access: { type: ["string", "null"], enum: ["public", "github", null] } });
  const refusals = { 401: err("no admin token and no dashboard session"), 403: err("not a writer, or a session's POST without X-Berth-CSRF"), 404: err("no such app"), 503: err("no BERTH_SECRET_KEY to seal tokens with") };
  const params = { app: APP_PARAM, env: ENVIRONMENT };
  const path = "/api/v1/apps/{app}/environments/{env}/access-token";
  return [
    { method: "GET", path, params, auth: "write", legacy, summary: "A protected environment's machine token (made on first use), for the X-Berth-Preview-Token header", responses: { 200: { description: "the token", schema: token }, ...refusals } },
    { method: "POST", path, params, auth: "write", legacy, summary: "Rotates a protected environment's machine token: the old one stops working at once", responses: { 201: { description: "the new token", schema: token }, ...refusals } },
  ];
}

function accessTokenRoute(db: Db, auth: DashboardAuth, o: { apiAuth: ApiAuth; box: SecretBox | undefined }): Route {
  return async (req, res, url) => {
    const m = PATH.exec(url.pathname);
    if (!m) return false;
    if (req.method !== "GET" && req.method !== "POST") return void sendError(res, 405, "GET shows the access token; POST rotates it."), true;
    const [, appName = "", environment = ""] = m;
    const app = await findAppByName(db, appName);
    const allowed = await mayManage(req, res, auth, o.apiAuth, app);
    if (allowed !== true) return true;
    if (!app) return void sendError(res, 404, `No app named ${appName}; GET /api/v1/apps lists them.`), true;
    if (!o.box) return void sendError(res, 503, "Access tokens are kept sealed under BERTH_SECRET_KEY: set it on the berth server."), true;
    const host = (await hostAccesses(db, { appId: app.id })).find((h) => h.environment === environment);
    const made = req.method === "POST" ? await rotatePreviewToken(db, o.box, app.id, environment) : await previewToken(db, o.box, app.id, environment);
    res.setHeader("cache-control", "no-store");
    sendJson(res, req.method === "POST" ? 201 : 200, {
      app: publicName(app),
      environment,
      header: TOKEN_HEADER,
      token: made.token.unwrap(),
      createdAt: made.createdAt,
      // Whether the environment asks for it now; a token made for a public one works once it is protected.
      access: host?.access ?? null,
    });
    return true;
  };
}

/** A bearer token (the admin's, or a writer's own), or a signed-in writer of the app's repository; otherwise answers and returns false. */
async function mayManage(req: IncomingMessage, res: ServerResponse, auth: DashboardAuth, apiAuth: ApiAuth, app: App | undefined): Promise<boolean> {
  let lookup: () => Promise<Access>;
  let ended: string;
  if (req.headers.authorization) {
    // The admin token, or a person's own API token with their GitHub permissions (as every API route).
    const caller = await apiAuth.caller(req);
    if ("status" in caller) {
      res.setHeader("www-authenticate", 'Bearer realm="berth"');
      return void sendError(res, caller.status, caller.error), false;
    }
    lookup = () => apiAuth.access(caller, app!);
    ended = "GitHub no longer accepts this token's sign-in: run berth login again.";
  } else {
    const viewer = await auth.viewer(req);
    if (!viewer) return void sendError(res, 401, "Sign in to the dashboard (GitHub login) as a writer of the repository, or send the admin token."), false;
    if (req.method === "POST" && !sameString(String(req.headers["x-berth-csrf"] ?? ""), viewer.csrf)) {
      return void sendError(res, 403, "A POST from a dashboard session needs the page's CSRF token in X-Berth-CSRF."), false;
    }
    lookup = () => auth.access(viewer, app!);
    ended = "Your GitHub sign-in ended; sign in to the dashboard again.";
  }
  let access: Access = "none";
  try {
    access = app ? await lookup() : "none";
  } catch (e) {
    if (!(e instanceof SessionEnded)) throw e;
    return void sendError(res, 401, ended), false;
  }
  if (allows(access, "write")) return true;
  // Someone who cannot read the repository learns nothing of the app, not even that it exists.
  sendError(res, allows(access, "read") ? 403 : 404, allows(access, "read") ? "Only writers of the repository see its access tokens." : "No such app.");
  return false;
}
