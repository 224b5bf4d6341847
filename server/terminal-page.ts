import type { ApiRoute } from "./api-router.js";
import { APP_PARAM, err } from "./api-schemas.js";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type Docker from "dockerode";
import { publicName } from "../core/names.js";
import { allows } from "../github/user-client.js";
import { appContainers } from "../releaser/container-logs.js";
import type { Db } from "../store/db.js";
import { appEnvironments } from "../store/dashboard-queries.js";
import { findAppByName } from "../store/queries.js";
import { SessionEnded, askToSignIn, type DashboardAuth } from "./dashboard-auth.js";
import { parseExecQuery } from "./exec-request.js";
import { sendPage } from "./html-page.js";
import { sendProblem } from "./login-routes.js";
import { sendError, type Route } from "./respond.js";
import { serverOf } from "./runtime-logs.js";

const require = createRequire(import.meta.url);

/** xterm.js and its fit addon, served by berth itself from node_modules: no CDN, one origin for the page's policy. */
const ASSETS: Record<string, { module: string; type: string }> = {
  "/assets/xterm/xterm.js": { module: "@xterm/xterm/lib/xterm.js", type: "text/javascript; charset=utf-8" },
  "/assets/xterm/xterm.css": { module: "@xterm/xterm/css/xterm.css", type: "text/css; charset=utf-8" },
  "/assets/xterm/addon-fit.js": { module: "@xterm/addon-fit/lib/addon-fit.js", type: "text/javascript; charset=utf-8" },
};
const loaded = new Map<string, Buffer>();

/** A plain HTTP request to the exec endpoint: 426, saying it is a WebSocket (server/exec-socket.ts answers upgrades). */
export function execWithoutUpgrade(): ApiRoute {
  return {
    method: "GET", path: "/api/v1/apps/{app}/exec", auth: "write", params: { app: APP_PARAM },
    summary: "A shell or command in one of an environment's containers: a WebSocket (Upgrade: websocket), see the README's Exec",
    query: {
      environment: { type: "string", pattern: "^(production|pr-[0-9]{1,9})$", description: "production (default) or pr-<N>" },
      container: { type: "string", description: "web, a process type or a service" },
    },
    responses: { 426: err("exec is a WebSocket: this request did not ask to upgrade") },
    handle: async ({ res }) => {
      res.setHeader("upgrade", "websocket");
      sendError(res, 426, "exec is a WebSocket: connect with Upgrade: websocket (berth exec does), or open the terminal in the dashboard.");
    },
  };
}

/** The static files of the terminal page; read once, kept in memory (about 500 kB). */
export function assetRoute(): Route {
  return async (req, res, url) => {
    const asset = ASSETS[url.pathname];
    if (!asset || (req.method !== "GET" && req.method !== "HEAD")) return false;
    let body = loaded.get(url.pathname);
    if (!body) loaded.set(url.pathname, (body = readFileSync(require.resolve(asset.module))));
    // The files change only with berth's own upgrade: a day in the browser's cache.
    res.writeHead(200, { "content-type": asset.type, "content-length": body.length, "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff" });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}

/**
 * `/apps/{app}/terminal?environment=&container=`: xterm.js connected to the exec WebSocket
 * (server/exec-socket.ts), for a session that can write to the app's repository (403 for a reader).
 */
export function terminalPage(db: Db, auth: DashboardAuth, o: { instance: string; engineFor: (server: string) => Promise<Docker | undefined> }): Route {
  return async (req, res, url) => {
    const m = /^\/apps\/([a-z0-9-]{1,63})\/terminal$/.exec(url.pathname);
    if (!m || req.method !== "GET") return false;
    const viewer = await auth.viewer(req);
    if (!viewer) return askToSignIn(req, res, url), true;
    const app = await findAppByName(db, m[1]!);
    let access;
    try {
      access = app ? await auth.access(viewer, app) : "none";
    } catch (e) {
      if (!(e instanceof SessionEnded)) throw e;
      return askToSignIn(req, res, url), true;
    }
    if (!app || !allows(access, "read")) return sendProblem(res, 404, `No app named ${m[1]}, or none you can read.`), true;
    if (!allows(access, "write")) return sendProblem(res, 403, `A terminal needs write access to ${app.repo_full_name}; your GitHub account can only read it.`), true;
    const q = parseExecQuery(url.searchParams);
    if (typeof q === "string") return sendError(res, 400, q), true;
    const environments = (await appEnvironments(db, app.id)).map((e) => ({ name: e.name, selected: e.name === q.environment }));
    const docker = await o.engineFor(await serverOf(db, app.id, q.environment));
    const containers = docker ? await appContainers(docker, o.instance, app.name, q.environment).catch(() => []) : [];
    const choices = containers.filter((c) => c.running).map((c) => ({ name: c.name, process: c.process, selected: c.name === q.container || c.process === q.container }));
    sendPage(res, 200, "terminal.html", { viewer, name: publicName(app), environment: q.environment, container: q.container, environments, containers: choices });
    return true;
  };
}
