import type { ServerResponse } from "node:http";
import type { SecretBox } from "../core/secret-box.js";
import { checkEngine, EngineCheckError } from "../releaser/check-engine.js";
import { engineOptions } from "../releaser/docker-wire.js";
import type { Db } from "../store/db.js";
import { LOCAL_RELEASE_SERVER, appsByServer, deleteServer, findServer, insertServer, listServers } from "../store/server-store.js";
import { SessionEnded, askToSignIn, type DashboardAuth, type Viewer } from "./dashboard-auth.js";
import { sendProblem } from "./login-routes.js";
import { readForm, type Route } from "./respond.js";
import { sendPage } from "./html-page.js";
import { LOCAL_SERVER, parseServerInput } from "./server-input.js";

export interface ServersPageOptions {
  box: SecretBox | undefined;
  /** BERTH_DOCKER_HOST, shown as the built-in server `local`. */
  localDocker: string;
  checkTimeoutMs?: number;
}

/**
 * Servers in the dashboard, for the operator session and admins of the account that owns the App's
 * installation: `GET /servers` lists them as last checked (the API's listing checks each engine),
 * `POST /servers` registers one from a form after connecting to it, `POST /servers/{name}/remove`
 * removes one that runs nothing. Forms carry the session's CSRF token.
 */
export function serversPage(db: Db, auth: DashboardAuth, o: ServersPageOptions): Route {
  return async (req, res, url) => {
    const remove = /^\/servers\/([a-z0-9-]{1,32})\/remove$/.exec(url.pathname);
    if (url.pathname !== "/servers" && !remove) return false;
    if (remove ? req.method !== "POST" : req.method !== "GET" && req.method !== "POST") return false;
    const viewer = await auth.viewer(req);
    if (!viewer) {
      askToSignIn(req, res, url);
      return true;
    }
    try {
      if (!(await auth.installationAdmin(viewer))) {
        sendProblem(res, 403, "Servers are managed by admins of the account that owns berth's GitHub App, or with BERTH_API_TOKEN.");
        return true;
      }
    } catch (e) {
      if (!(e instanceof SessionEnded)) throw e;
      askToSignIn(req, res, url);
      return true;
    }
    if (req.method === "GET") return page(db, o, viewer, res);
    const form = await readForm(req, 128 * 1024);
    if (!auth.csrfOk(viewer, form)) {
      sendProblem(res, 403, "This form was not sent from berth's own page (CSRF token missing or wrong). Reload the page and try again.");
      return true;
    }
    if (remove) {
      const name = remove[1]!;
      if (name === LOCAL_SERVER) return problem(res, 409, `${LOCAL_SERVER} is the built-in server (BERTH_DOCKER_HOST); it cannot be removed.`);
      if (!(await findServer(db, name))) return problem(res, 404, `No server named ${name}.`);
      const placed = (await appsByServer(db)).get(name) ?? 0;
      if (placed > 0) return problem(res, 409, `Server ${name} still runs ${placed} app${placed === 1 ? "" : "s"}; move or remove them first.`);
      await deleteServer(db, name);
      auth.o.log.info({ server: name, by: viewer.login }, "server removed in the dashboard");
      res.writeHead(303, { location: "/servers", "cache-control": "no-store" }).end();
      return true;
    }
    const labels = Object.fromEntries((form?.get("labels") ?? "").split(/[\s,]+/).filter(Boolean).map((kv) => kv.split("=", 2) as [string, string]));
    const tls = form?.get("ca") ? { ca: form.get("ca"), cert: form.get("cert"), key: form.get("key") } : undefined;
    const input = parseServerInput({ name: form?.get("name"), docker: form?.get("docker"), labels, ...(tls ? { tls } : {}) });
    if (!input.ok) return problem(res, 400, input.error);
    const s = input.value;
    if (s.tls && !o.box) return problem(res, 409, "berth has no BERTH_SECRET_KEY, so it cannot store TLS material encrypted: set it (openssl rand -hex 32) and restart.");
    if (await findServer(db, s.name)) return problem(res, 409, `A server named ${s.name} is registered already; remove it first to replace it.`);
    try {
      const engine = await checkEngine(engineOptions(s.docker, s.tls), s.docker, o.checkTimeoutMs ?? 5000);
      if (!(await insertServer(db, o.box, { ...s, engine }))) return problem(res, 409, `A server named ${s.name} was registered meanwhile.`);
    } catch (e) {
      if (!(e instanceof EngineCheckError)) throw e;
      return problem(res, 422, `Server ${s.name} not registered: ${e.message}`);
    }
    auth.o.log.info({ server: s.name, by: viewer.login }, "server registered in the dashboard");
    res.writeHead(303, { location: "/servers", "cache-control": "no-store" }).end();
    return true;
  };
}

function problem(res: ServerResponse, status: number, message: string): true {
  sendProblem(res, status, message);
  return true;
}

async function page(db: Db, o: ServersPageOptions, viewer: Viewer, res: ServerResponse): Promise<true> {
  const [rows, apps] = await Promise.all([listServers(db), appsByServer(db)]);
  const servers = [
    { name: LOCAL_SERVER, docker: o.localDocker, labels: "", state: "built in", error: null, checkedAt: undefined, version: "", apps: apps.get(LOCAL_RELEASE_SERVER) ?? 0, removable: false },
    ...rows.map((r) => ({ name: r.name, docker: r.docker_url, labels: Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(", "), state: r.state, error: r.last_error, checkedAt: r.checked_at ?? undefined, version: r.engine?.version ?? "", apps: apps.get(r.name) ?? 0, removable: (apps.get(r.name) ?? 0) === 0 })),
  ];
  sendPage(res, 200, "servers.html", { viewer, servers });
  return true;
}
