import type Docker from "dockerode";
import type { SecretBox } from "../core/secret-box.js";
import type { Db, EngineFacts, Server } from "../store/db.js";
import { checkEngine, EngineCheckError } from "../releaser/check-engine.js";
import { engineOptions } from "../releaser/docker-wire.js";
import { LOCAL_RELEASE_SERVER, appsByServer, deleteServer, findServer, insertServer, listServers, openServerTls, recordServerCheck } from "../store/server-store.js";
import { placedCounts } from "../store/placement-store.js";
import type { ApiRoute } from "./api-router.js";
import { SERVER, empty, err, json, list } from "./api-schemas.js";
import { sendError, sendJson } from "./respond.js";
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

const PEM = { type: "string", maxLength: 32 * 1024 } as const;
/** The body of POST /api/v1/servers; parseServerInput checks what a schema cannot (URL forms, PEM contents). */
const NEW_SERVER = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 32, description: "lower case letters, digits and dashes" },
    docker: { type: "string", maxLength: 512, description: "tcp://HOST:2376, ssh://USER@HOST or unix:///PATH" },
    tls: { type: "object", properties: { ca: PEM, cert: PEM, key: PEM }, required: ["ca", "cert", "key"], additionalProperties: false },
    labels: { type: "object", additionalProperties: { type: "string", maxLength: 63 }, maxProperties: 32 },
  },
  required: ["name", "docker"],
} as const;

/** Servers under /api/v1/servers: register (after connecting), list (checking each), remove; for installation admins. */
export function serverRoutes(db: Db, box: SecretBox | undefined, opts: ServerRoutesOptions): ApiRoute[] {
  const timeoutMs = opts.checkTimeoutMs ?? 5000;
  const check = async (s: Pick<Server, "name" | "docker_url" | "tls_sealed">): Promise<{ engine: EngineFacts } | { error: string }> => {
    try {
      return { engine: await checkEngine(engineOptions(s.docker_url, openServerTls(box, s)), s.docker_url, timeoutMs) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  return [
    {
      method: "POST", path: "/api/v1/servers", auth: "installation", summary: "Register a droid server (berth connects to it first)",
      body: { schema: NEW_SERVER, maxBytes: MAX_BODY, example: { name: "droid1", docker: "ssh://root@droid1.example.com", labels: { region: "eu" } } },
      responses: { 201: json("registered", SERVER), 400: err("a bad body"), 409: err("the name is taken, or no BERTH_SECRET_KEY for TLS material"), 422: err("berth could not reach the engine") },
      handle: async ({ res, body }) => {
        const input = parseServerInput(body);
        if (!input.ok) return sendError(res, 400, input.error);
        const s = input.value;
        if (s.tls && !box) return sendError(res, 409, "berth has no BERTH_SECRET_KEY, so it cannot store TLS material encrypted: set it (openssl rand -hex 32) and restart.");
        if (await findServer(db, s.name)) return sendError(res, 409, `A server named ${s.name} is registered already; DELETE /api/v1/servers/${s.name} first to replace it.`);
        let engine: EngineFacts;
        try {
          engine = await checkEngine(engineOptions(s.docker, s.tls), s.docker, timeoutMs);
        } catch (e) {
          if (!(e instanceof EngineCheckError)) throw e;
          return sendError(res, 422, `Server ${s.name} not registered: ${e.message}`);
        }
        const row = await insertServer(db, box, { ...s, engine });
        if (!row) return sendError(res, 409, `A server named ${s.name} was registered meanwhile.`);
        sendJson(res, 201, serverJson({ name: row.name, docker: row.docker_url, labels: row.labels, state: row.state, error: null, checkedAt: row.checked_at, engine, apps: 0 }));
      },
    },
    {
      method: "GET", path: "/api/v1/servers", auth: "installation", summary: "The servers, each checked now",
      responses: { 200: json("the servers, the built-in local first", list(SERVER)) },
      handle: async ({ res }) => {
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
      },
    },
    {
      method: "DELETE", path: "/api/v1/servers/{name}", auth: "installation", summary: "Remove a server that runs nothing", params: { name: { type: "string", maxLength: 64 } },
      responses: { 204: empty("removed"), 404: err("no such server"), 409: err("the built-in server, or apps still run there") },
      handle: async ({ res, params }) => {
        const name = params.name!;
        if (name === LOCAL_SERVER) return sendError(res, 409, `${LOCAL_SERVER} is the built-in server (BERTH_DOCKER_HOST); it cannot be removed.`);
        if (!(await findServer(db, name))) return sendError(res, 404, `No server named ${name}; GET /api/v1/servers lists them.`);
        // Releases record the server they run on, placements the environments that live there (released or not yet).
        const running = (await appsByServer(db)).get(name) ?? 0;
        const placed = (await placedCounts(db)).get(name) ?? 0;
        if (running > 0 || placed > 0) {
          return sendError(res, 409, `Server ${name} still has ${running} app${running === 1 ? "" : "s"} running and ${placed} environment${placed === 1 ? "" : "s"} placed on it; move them (POST /api/v1/apps/{app}/move) or remove them first.`);
        }
        await deleteServer(db, name);
        res.writeHead(204).end();
      },
    },
  ];
}
