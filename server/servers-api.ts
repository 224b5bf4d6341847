import type Docker from "dockerode";
import type { SecretBox } from "../core/secret-box.js";
import type { Sensitive } from "../core/sensitive.js";
import type { Db, EngineFacts, Server } from "../store/db.js";
import { checkEngine, EngineCheckError } from "../releaser/check-engine.js";
import { engineOptions } from "../releaser/docker-wire.js";
import { LOCAL_RELEASE_SERVER, appsByServer, deleteServer, findServer, insertServer, listServers, openServerTls, recordServerCheck } from "../store/server-store.js";
import { placedCounts } from "../store/placement-store.js";
import { apiAllowed } from "./admin-session.js";
import { readJson, sendError, sendJson, type Route } from "./respond.js";
import { LOCAL_SERVER, parseServerInput } from "./server-input.js";

export interface ServerRoutesOptions {
  /** BERTH_DOCKER_HOST, as the built-in server `local` shows it. */
  localDocker: string;
  /** Dockerode options for the built-in server (dockerOptions of BERTH_DOCKER_HOST). */
  localOptions: Docker.DockerOptions;
  /** Bound of one engine check: registering waits this long at most, and so does a listing. */
  checkTimeoutMs?: number;
}

const MAX_BODY = 128 * 1024;

/** One server as the API shows it: its state, the engine's facts and what berth runs there. */
function serverJson(s: { name: string; docker: string; labels: Record<string, string>; state: string; error: string | null; checkedAt: Date | null; engine: EngineFacts | null; apps: number }): unknown {
  const e = s.engine;
  return {
    name: s.name,
    docker: s.docker,
    labels: s.labels,
    state: s.state,
    error: s.error,
    checkedAt: s.checkedAt,
    engine: e ? { version: e.version, apiVersion: e.apiVersion, os: e.os, cpus: e.cpus, memoryBytes: e.memoryBytes } : null,
    containers: e ? e.containers : null,
    running: e ? e.running : null,
    apps: s.apps,
  };
}

/** Servers under /api/v1/servers: register (after connecting), list (checking each), remove. Same bearer auth as the rest of the API. */
export function serverRoutes(db: Db, token: Sensitive | undefined, box: SecretBox | undefined, opts: ServerRoutesOptions): Route {
  const timeoutMs = opts.checkTimeoutMs ?? 5000;
  const check = async (s: Pick<Server, "name" | "docker_url" | "tls_sealed">): Promise<{ engine: EngineFacts } | { error: string }> => {
    try {
      return { engine: await checkEngine(engineOptions(s.docker_url, openServerTls(box, s)), s.docker_url, timeoutMs) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, "");
    const m = /^\/api\/v1\/servers(?:\/([^/]+))?$/.exec(path);
    if (!m) return false;
    if (!apiAllowed(req, res, token)) return true;
    const name = m[1] === undefined ? undefined : decodeURIComponent(m[1]);

    if (req.method === "POST" && name === undefined) {
      const body = await readJson(req, MAX_BODY);
      if (body === undefined) {
        sendError(res, 400, `Send a JSON body of at most ${MAX_BODY / 1024} KiB: {"name", "docker", "tls": {"ca", "cert", "key"}, "labels"}.`);
        return true;
      }
      const input = parseServerInput(body);
      if (!input.ok) {
        sendError(res, 400, input.error);
        return true;
      }
      const s = input.value;
      if (s.tls && !box) {
        sendError(res, 409, "berth has no BERTH_SECRET_KEY, so it cannot store TLS material encrypted: set it (openssl rand -hex 32) and restart.");
        return true;
      }
      if (await findServer(db, s.name)) {
        sendError(res, 409, `A server named ${s.name} is registered already; DELETE /api/v1/servers/${s.name} first to replace it.`);
        return true;
      }
      let engine: EngineFacts;
      try {
        engine = await checkEngine(engineOptions(s.docker, s.tls), s.docker, timeoutMs);
      } catch (e) {
        if (!(e instanceof EngineCheckError)) throw e;
        sendError(res, 422, `Server ${s.name} not registered: ${e.message}`);
        return true;
      }
      const row = await insertServer(db, box, { ...s, engine });
      if (!row) {
        sendError(res, 409, `A server named ${s.name} was registered meanwhile.`);
        return true;
      }
      sendJson(res, 201, serverJson({ name: row.name, docker: row.docker_url, labels: row.labels, state: row.state, error: null, checkedAt: row.checked_at, engine, apps: 0 }));
      return true;
    }

    if (req.method === "GET" && name === undefined) {
      const [rows, apps] = await Promise.all([listServers(db), appsByServer(db)]);
      // Every engine is asked at once, each within the bound: a dead droid slows the listing by one timeout, not by one per server.
      const local = checkEngine(opts.localOptions, opts.localDocker, timeoutMs).then((engine) => ({ engine }), (e: Error) => ({ error: e.message }));
      const outcomes = await Promise.all([local, ...rows.map(check)]);
      await Promise.all(rows.map((r, i) => recordServerCheck(db, r.name, outcomes[i + 1]!)));
      const shown = [
        { name: LOCAL_SERVER, docker: opts.localDocker, labels: {}, row: undefined, outcome: outcomes[0]!, apps: apps.get(LOCAL_RELEASE_SERVER) ?? 0 },
        ...rows.map((r, i) => ({ name: r.name, docker: r.docker_url, labels: r.labels, row: r, outcome: outcomes[i + 1]!, apps: apps.get(r.name) ?? 0 })),
      ];
      sendJson(
        res,
        200,
        shown.map((s) =>
          serverJson({
            ...s,
            state: "engine" in s.outcome ? "reachable" : "unreachable",
            error: "error" in s.outcome ? s.outcome.error : null,
            checkedAt: new Date(),
            engine: "engine" in s.outcome ? s.outcome.engine : (s.row?.engine ?? null),
          }),
        ),
      );
      return true;
    }

    if (req.method === "DELETE" && name !== undefined) {
      if (name === LOCAL_SERVER) {
        sendError(res, 409, `${LOCAL_SERVER} is the built-in server (BERTH_DOCKER_HOST); it cannot be removed.`);
        return true;
      }
      if (!(await findServer(db, name))) {
        sendError(res, 404, `No server named ${name}; GET /api/v1/servers lists them.`);
        return true;
      }
      // Releases record the server they run on, placements the environments that live there (released or not yet).
      const running = (await appsByServer(db)).get(name) ?? 0;
      const placed = (await placedCounts(db)).get(name) ?? 0;
      if (running > 0 || placed > 0) {
        sendError(res, 409, `Server ${name} still has ${running} app${running === 1 ? "" : "s"} running and ${placed} environment${placed === 1 ? "" : "s"} placed on it; move them (POST /api/v1/apps/{app}/move) or remove them first.`);
        return true;
      }
      await deleteServer(db, name);
      res.writeHead(204).end();
      return true;
    }
    sendError(res, 405, `No API route ${req.method} ${path}: POST and GET /api/v1/servers, DELETE /api/v1/servers/{name}.`);
    return true;
  };
}
