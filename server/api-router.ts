import type { IncomingMessage, ServerResponse } from "node:http";
import FindMyWay, { type HTTPMethod } from "find-my-way";
import type { Logger } from "../core/logger.js";
import { Sensitive } from "../core/sensitive.js";
import { allows, type Access } from "../github/user-client.js";
import type { App, Db } from "../store/db.js";
import { findAppByName } from "../store/queries.js";
import type { ApiAuth, Caller } from "./api-auth.js";
import { SessionEnded } from "./dashboard-auth.js";
import { schemaError, type JsonSchema } from "./json-schema.js";
import { readBody, sendError, type Route } from "./respond.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const METHODS: Method[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** What a route may answer, for the OpenAPI document (and the contract tests generated from it). */
export interface ResponseDoc {
  description: string;
  /** The JSON body's schema; absent for an empty body. */
  schema?: JsonSchema;
  /** Another media type than application/json (a stream, Prometheus text). */
  contentType?: string;
}

/**
 * Who may call a route: `public` anyone; `admin` the admin token only; `user` a person's own API
 * token; `read`/`write` a caller with that access to the `{app}` of the path; `installation` an admin
 * of the account that owns berth's installation. The admin token passes every check but `user`.
 */
export type RouteAuth = "public" | "admin" | "user" | "read" | "write" | "installation";

interface RouteDoc {
  method: Method;
  /** OpenAPI style: /api/v1/apps/{app}. */
  path: string;
  summary: string;
  description?: string;
  /** Path parameters; a value that breaks its `pattern` is no route at all (404). */
  params?: Record<string, JsonSchema>;
  query?: Record<string, JsonSchema>;
  responses: Record<number, ResponseDoc>;
}

/** One API route as a table entry: documented and checked by the router before `handle` runs. */
export interface ApiRoute extends RouteDoc {
  auth: RouteAuth;
  /** A JSON body: its one schema (validated here, and published), its bound in bytes, whether it may be absent. */
  body?: { schema: JsonSchema; maxBytes: number; optional?: boolean; invalid?: string; example?: unknown };
  handle: (ctx: ApiContext) => Promise<void>;
}

/**
 * A route written as a legacy `Route` function mounted at a documented path: it checks auth and
 * bodies itself (`auth` only documents what it checks); returning false means 404.
 */
export interface LegacyApiRoute extends RouteDoc {
  legacy: Route;
  auth?: RouteAuth;
}

export type AnyApiRoute = ApiRoute | LegacyApiRoute;

export interface ApiContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** The validated body; undefined when an optional body was not sent. */
  body: unknown;
  caller: Caller;
  /** The app of `{app}`, found and permitted. */
  app: App;
  /** The caller's access to `app` (admin for the admin token). */
  access: Access;
}

/** A route without a body still reads (and ignores) this much, such as the `{}` some clients always send. */
const NO_BODY_BOUND = 1024;

const isLegacy = (r: AnyApiRoute): r is LegacyApiRoute => "legacy" in r;
const noRoute = (res: ServerResponse, method: string | undefined, path: string): void => sendError(res, 404, `No API route ${method} ${path}.`);

/** A JSON media type: application/json or application/*+json, any parameters. */
export function isJsonType(header: string | undefined): boolean {
  return /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i.test(header ?? "");
}

/**
 * /api/v1 through find-my-way: an unknown path is 404, a known one with another method 405 with
 * `Allow`, a JSON body over the route's bound 413, another media type 415, a body that breaks the
 * route's schema 400; then authentication and authorization by the route's `auth`.
 */
export function apiRouter(routes: AnyApiRoute[], deps: { db: Db; auth: ApiAuth; log: Logger }): Route {
  const router = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 256 });
  for (const r of routes) router.on(r.method as HTTPMethod, r.path.replace(/\{(\w+)\}/g, ":$1"), () => undefined, { route: r });
  const allowed = (path: string): Method[] => METHODS.filter((m) => router.find(m, path) !== null);

  return async (req, res, url) => {
    if (url.pathname !== "/api/v1" && !url.pathname.startsWith("/api/v1/")) return false;
    const path = url.pathname.replace(/\/+$/, "");
    // HEAD is GET without the body (node:http leaves it out).
    const found = router.find((req.method === "HEAD" ? "GET" : (req.method ?? "GET")) as HTTPMethod, url.pathname);
    if (!found) {
      const allow = allowed(url.pathname);
      if (allow.length === 0) return noRoute(res, req.method, path), true;
      res.setHeader("allow", allow.join(", "));
      sendError(res, 405, `${req.method} is not allowed on ${path}; use ${allow.join(" or ")}.`);
      return true;
    }
    const route = (found.store as { route: AnyApiRoute }).route;
    const params = found.params as Record<string, string>;
    for (const [name, schema] of Object.entries(route.params ?? {})) {
      if (schemaError(schema, params[name] ?? "") !== undefined) return noRoute(res, req.method, path), true;
    }
    if (isLegacy(route)) {
      if (!(await route.legacy(req, res, url))) noRoute(res, req.method, path);
      return true;
    }
    await answer(route, params, req, res, url, deps);
    return true;
  };
}

async function answer(route: ApiRoute, params: Record<string, string>, req: IncomingMessage, res: ServerResponse, url: URL, deps: { db: Db; auth: ApiAuth }): Promise<void> {
  // A public route's caller is nobody: a user without a GitHub sign-in, who may read and do nothing.
  let caller: Caller = { admin: false, login: "anonymous", userId: "", tokenId: 0, viewer: { login: "anonymous", admin: false, csrf: "", idHash: "" }, apiToken: new Sensitive(""), refreshSealed: null };
  if (route.auth !== "public") {
    const c = await deps.auth.caller(req);
    if ("status" in c) {
      if (c.status === 401) res.setHeader("www-authenticate", 'Bearer realm="berth"');
      return sendError(res, c.status, c.error);
    }
    caller = c;
    if (route.auth === "user" && caller.admin) return sendError(res, 403, "This route is for a person's own API token; the admin token belongs to no GitHub user.");
    if (route.auth === "admin" && !caller.admin) return sendError(res, 403, "Only the admin token (BERTH_API_TOKEN) may do this.");
  }
  let app: App | undefined;
  let access: Access = "admin";
  try {
    if (route.auth === "installation" && !(await deps.auth.installationAdmin(caller))) {
      return sendError(res, 403, "Servers are managed by admins of the account that owns berth's GitHub App installation, or with BERTH_API_TOKEN.");
    }
    if (params.app !== undefined) {
      app = await findAppByName(deps.db, params.app);
      access = app ? await deps.auth.access(caller, app) : "none";
      // An app the caller cannot read is one they cannot tell from a missing one.
      if (!app || !allows(access, "read")) return sendError(res, 404, `No app named ${params.app}; GET /api/v1/apps lists them.`);
      if (route.auth === "write" && !allows(access, "write")) return sendError(res, 403, `You can read ${params.app}'s repository but not write to it, which this needs.`);
    }
  } catch (e) {
    if (!(e instanceof SessionEnded)) throw e;
    return signInEnded(res);
  }
  let body: unknown;
  const sent = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (!route.body && sent && (await readBody(req, NO_BODY_BOUND)) === undefined) {
    res.setHeader("connection", "close");
    return sendError(res, 413, `${route.method} ${route.path} takes no body.`);
  }
  if (route.body) {
    if (sent || !route.body.optional) {
      if (sent && !isJsonType(req.headers["content-type"])) {
        return sendError(res, 415, `Send the body as JSON with Content-Type: application/json; got ${JSON.stringify((req.headers["content-type"] ?? "none").slice(0, 60))}.`);
      }
      const raw = await readBody(req, route.body.maxBytes);
      if (raw === undefined) {
        res.setHeader("connection", "close"); // the rest of the body is never read
        return sendError(res, 413, `The body is larger than ${route.body.maxBytes} bytes, the most ${route.method} ${route.path} takes.`);
      }
      const text = raw.toString("utf8");
      if (text.trim() !== "" || !route.body.optional) {
        let problem: string | undefined;
        try {
          body = JSON.parse(text);
          problem = schemaError(route.body.schema, body);
        } catch {
          problem = "body: not valid JSON";
        }
        if (problem) return sendError(res, 400, route.body.invalid ?? `${problem}.`);
      }
    }
  }
  try {
    await route.handle({ req, res, url, params, body, caller, app: app as App, access });
  } catch (e) {
    if (!(e instanceof SessionEnded) || res.headersSent) throw e;
    signInEnded(res);
  }
}

function signInEnded(res: ServerResponse): void {
  res.setHeader("www-authenticate", 'Bearer realm="berth"');
  sendError(res, 401, "GitHub no longer accepts the sign-in behind this API token: revoke it and create a new one (log in again first).");
}
