import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { WebSocketServer, type WebSocket } from "ws";
import { publicName } from "../core/names.js";
import type { Logger } from "../core/logger.js";
import { allows } from "../github/user-client.js";
import { appContainers } from "../releaser/container-logs.js";
import type { Db } from "../store/db.js";
import { findAppByName } from "../store/queries.js";
import type { ApiAuth } from "./api-auth.js";
import { SessionEnded, type DashboardAuth } from "./dashboard-auth.js";
import { parseExecQuery, pickContainer, sameOrigin } from "./exec-request.js";
import { bridgeExec, type ExecBridgeLimits, type ExecEnd } from "./exec-bridge.js";
import { recordExecEnd, recordExecStart } from "../store/exec-session-store.js";
import { serverOf } from "./runtime-logs.js";

export interface ExecLimits extends ExecBridgeLimits {
  /** Sessions open at once, for all users together. */
  maxSessions: number;
  /** Sessions open at once for one user (or the admin token). */
  maxPerUser: number;
  /** The largest WebSocket message berth accepts (a paste of that size is fine, a flood is not). */
  maxFrameBytes: number;
}

export const DEFAULT_EXEC_LIMITS: ExecLimits = { idleMs: 15 * 60_000, maxMs: 4 * 60 * 60_000, maxSessions: 32, maxPerUser: 4, maxFrameBytes: 64 * 1024 };

export interface ExecDeps {
  db: Db;
  log: Logger;
  /** This installation's name: only its containers are entered. */
  instance: string;
  /** BERTH_PUBLIC_URL: a browser's upgrade must come from a page of this origin. */
  publicUrl: string;
  /** Bearer tokens: the admin token, or a person's own API token. */
  apiAuth: ApiAuth;
  auth: DashboardAuth;
  /** The Docker engine of a server by name; undefined when berth cannot reach it. */
  engineFor: (server: string) => Promise<Docker | undefined>;
  limits?: Partial<ExecLimits>;
}

const EXEC_PATH = /^\/api\/v1\/apps\/([a-z0-9-]{1,63})\/exec\/?$/;

/** An upgrade refused before it became a WebSocket: a plain HTTP answer, then the socket closes. */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * The exec endpoint: `GET /api/v1/apps/{app}/exec?environment=&container=&cmd=…&tty=&cols=&rows=`
 * upgraded to a WebSocket into `docker exec` in a container of that app environment (on whichever
 * server runs it). Writers only: the admin bearer token, or a dashboard session whose GitHub user can
 * write to the repository and whose page is berth's own origin. Binary frames carry stdin; berth
 * sends output as binary frames whose first byte is the stream (1 stdout, 2 stderr), and a final text
 * frame `{"type":"exit","code":N}`. Text frames from the client: `{"type":"resize","cols","rows"}`,
 * `{"type":"eof"}`. Every session is logged with who, app, environment, container, start and end.
 */
export function execSockets(deps: ExecDeps): { upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void; close: () => void; open: () => number } {
  const limits = { ...DEFAULT_EXEC_LIMITS, ...deps.limits };
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes, perMessageDeflate: false });
  const perUser = new Map<string, number>();
  let open = 0;
  const log = deps.log.child({ component: "exec" });

  const refuse = (socket: Duplex, status: number, message: string): void => {
    const body = JSON.stringify({ error: message });
    const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" }[status] ?? "Error";
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };

  /** Who is asking, when they may write to the app: the admin token, or a writer's session from berth's own page. */
  const writer = async (req: IncomingMessage, appName: string): Promise<{ who: string; app: NonNullable<Awaited<ReturnType<typeof findAppByName>>> }> => {
    const app = await findAppByName(deps.db, appName);
    if (req.headers.authorization !== undefined) {
      // The admin token, or a person's own API token with their GitHub permissions (as every API route).
      const caller = await deps.apiAuth.caller(req);
      if ("status" in caller) throw new Refused(caller.status, caller.error);
      const access = app ? await deps.apiAuth.access(caller, app).catch((e: unknown) => {
        if (e instanceof SessionEnded) throw new Refused(401, "GitHub no longer accepts this token's sign-in: run berth login again.");
        throw e;
      }) : "none";
      if (!app || !allows(access, "read")) throw new Refused(404, `No app named ${appName}, or none you can read; GET /api/v1/apps lists them.`);
      if (!allows(access, "write")) throw new Refused(403, `A terminal needs write access to ${app.repo_full_name}; your GitHub account can only read it.`);
      return { who: caller.admin ? "admin token" : `${caller.login} (API token)`, app };
    }
    const viewer = await deps.auth.viewer(req);
    if (!viewer) throw new Refused(401, "Sign in first: open / and log in with GitHub, or send the admin bearer token.");
    if (!sameOrigin(req.headers.origin, deps.publicUrl)) throw new Refused(403, "This terminal was not opened from berth's own page (Origin is not BERTH_PUBLIC_URL's).");
    let access;
    try {
      access = app ? await deps.auth.access(viewer, app) : "none";
    } catch (e) {
      if (e instanceof SessionEnded) throw new Refused(401, "Your GitHub sign-in expired: log in again.");
      throw e;
    }
    if (!app || !allows(access, "read")) throw new Refused(404, `No app named ${appName}, or none you can read.`);
    if (!allows(access, "write")) throw new Refused(403, `A terminal needs write access to ${app.repo_full_name}; your GitHub account can only read it.`);
    return { who: viewer.admin ? `${viewer.login} (admin session)` : viewer.login, app };
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? "/", "http://berth.invalid");
    const m = EXEC_PATH.exec(url.pathname);
    if (!m || req.method !== "GET") return refuse(socket, 404, `No WebSocket endpoint at ${url.pathname.slice(0, 200)}; exec is GET /api/v1/apps/{app}/exec.`);
    socket.on("error", () => socket.destroy());
    // The handshake is checked before docker exec starts, so a refused one leaves nothing running.
    if (req.headers.upgrade?.toLowerCase() !== "websocket" || !/^[+/0-9A-Za-z]{22}==$/.test(req.headers["sec-websocket-key"] ?? "") || !["8", "13"].includes(req.headers["sec-websocket-version"] ?? "")) {
      return refuse(socket, 400, "Not a WebSocket handshake: send Upgrade: websocket, Sec-WebSocket-Key and Sec-WebSocket-Version: 13.");
    }
    void (async () => {
      const { who, app } = await writer(req, m[1]!);
      const q = parseExecQuery(url.searchParams);
      if (typeof q === "string") throw new Refused(400, q);
      if (open >= limits.maxSessions) throw new Refused(429, `berth has ${open} terminals open, its limit; close one or retry later.`);
      if ((perUser.get(who) ?? 0) >= limits.maxPerUser) throw new Refused(429, `${who} has ${limits.maxPerUser} terminals open, the most one user may; close one first.`);
      const server = await serverOf(deps.db, app.id, q.environment);
      const docker = await deps.engineFor(server);
      if (!docker) throw new Refused(503, `berth cannot reach server ${server}; GET /api/v1/servers says why.`);
      const picked = pickContainer(await appContainers(docker, deps.instance, app.name, q.environment), q.container);
      if (typeof picked === "string") throw new Refused(404, `${q.environment} of ${publicName(app)} on ${server}: ${picked}`);
      // Counted from here: the checks above ran with awaits in between, so the limits are checked again.
      if (open >= limits.maxSessions || (perUser.get(who) ?? 0) >= limits.maxPerUser) throw new Refused(429, "Too many terminals are open; close one first.");
      open++;
      perUser.set(who, (perUser.get(who) ?? 0) + 1);
      const record = { who, app: publicName(app), environment: q.environment, container: picked.name, process: picked.process, server, command: q.cmd[0], words: q.cmd.length, tty: q.tty };
      // Recorded in Postgres before anything runs: a session berth cannot record is not opened.
      let auditId: string | undefined;
      const release = (end: ExecEnd): void => {
        open--;
        const n = (perUser.get(who) ?? 1) - 1;
        if (n > 0) perUser.set(who, n);
        else perUser.delete(who);
        if (auditId) recordExecEnd(deps.db, auditId, end).catch((err: unknown) => log.warn({ err, ...record }, "could not record the end of an exec session"));
      };
      const nothing = (reason: ExecEnd["reason"]): ExecEnd => ({ reason, exitCode: null, bytesIn: 0, bytesOut: 0 });
      try {
        auditId = await recordExecStart(deps.db, { appId: app.id, environment: q.environment, container: picked.name, process: picked.process, server, who, command: `${q.cmd[0]} (${q.cmd.length} word${q.cmd.length === 1 ? "" : "s"})`, tty: q.tty });
      } catch (e) {
        release(nothing("failed"));
        log.error({ err: e, ...record }, "could not record an exec session");
        throw new Refused(503, "berth could not record this session in its database, so it does not open it; retry shortly.");
      }
      let started: Awaited<ReturnType<typeof startExec>>;
      try {
        started = await startExec(docker, picked.id, q.cmd, q.tty, q.cols, q.rows);
      } catch (e) {
        release(nothing("failed"));
        throw new Refused(503, `Docker refused the exec: ${(e as Error).message}`);
      }
      if (socket.destroyed) {
        started.stream.destroy();
        release(nothing("client closed"));
        return;
      }
      let upgraded = false;
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        upgraded = true;
        const at = Date.now();
        log.info({ ...record, startedAt: new Date(at).toISOString() }, "exec session started");
        bridgeExec(ws, started.exec, started.stream, { tty: q.tty, demux: (s, out, err) => docker.modem.demuxStream(s, out, err) }, limits, (end) => {
          release(end);
          log.info({ ...record, startedAt: new Date(at).toISOString(), endedAt: new Date().toISOString(), durationMs: Date.now() - at, ...end }, "exec session ended");
        });
      });
      // ws answers a handshake it refuses by itself, at once: the exec started for it goes too.
      if (!upgraded) {
        started.stream.destroy();
        release(nothing("failed"));
      }
    })().catch((e: unknown) => {
      if (e instanceof Refused) {
        log.info({ path: url.pathname, status: e.status, reason: e.message }, "exec refused");
        refuse(socket, e.status, e.message);
      } else {
        log.error({ err: e, path: url.pathname }, "exec failed");
        refuse(socket, 500, "berth failed to open this terminal; its log has the details.");
      }
    });
  };

  return {
    upgrade,
    open: () => open,
    close: () => {
      for (const ws of wss.clients) ws.close(1001, "berth is shutting down");
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

/** Creates and starts `docker exec` with its input attached; the hijacked connection carries both ways. */
async function startExec(docker: Docker, id: string, cmd: string[], tty: boolean, cols: number, rows: number): Promise<{ exec: Docker.Exec; stream: Duplex }> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: tty, ...(tty ? { ConsoleSize: [rows, cols], Env: ["TERM=xterm-256color"] } : {}) } as Docker.ExecCreateOptions);
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: tty, ...(tty ? { ConsoleSize: [rows, cols] } : {}) } as Docker.ExecStartOptions)) as Duplex;
  // Engines before API 1.42 ignore ConsoleSize: the size follows at once, as docker's own CLI sends it.
  if (tty) await exec.resize({ h: rows, w: cols }).catch(() => {});
  return { exec, stream };
}
