import type { IncomingMessage, ServerResponse } from "node:http";
import type Docker from "dockerode";
import { PRODUCTION, publicName } from "../core/names.js";
import { allows } from "../github/user-client.js";
import { appContainers, readLogs, type AppContainer } from "../releaser/container-logs.js";
import type { App, Db } from "../store/db.js";
import { appEnvironments } from "../store/dashboard-queries.js";
import { findAppByName } from "../store/queries.js";
import { LOCAL_RELEASE_SERVER } from "../store/server-store.js";
import { appRedactor } from "../store/secret-store.js";
import type { SecretBox } from "../core/secret-box.js";
import type { ApiRoute } from "./api-router.js";
import { APP_PARAM, err } from "./api-schemas.js";
import { SessionEnded, askToSignIn, type DashboardAuth } from "./dashboard-auth.js";
import { sendError, type Route } from "./respond.js";
import { sendPage } from "./html-page.js";

export interface RuntimeLogDeps {
  db: Db;
  /** This installation's name: only its containers are read. */
  instance: string;
  /** The Docker engine of a server by name (the releases' `server`); undefined when berth cannot reach it. */
  engineFor: (server: string) => Promise<Docker | undefined>;
  auth: DashboardAuth;
  /** Opens the app's secrets, whose values are masked in every line (as in build logs). */
  box: SecretBox | undefined;
  /** Following streams open at once, for all clients: each holds a socket and a Docker log stream per container. */
  maxFollowing?: number;
  /** A following stream ends after this long; the page reconnects by itself. */
  maxFollowMs?: number;
}

/** What a logs request asks for, validated. */
export interface LogQuery {
  environment: string;
  process: string | undefined;
  tail: number;
  follow: boolean;
}

/** Parses ?environment=&process=&tail=&follow=; a message saying what is wrong when it cannot. */
export function parseLogQuery(q: URLSearchParams): LogQuery | string {
  const environment = q.get("environment") || PRODUCTION;
  if (!/^(production|pr-\d{1,9})$/.test(environment)) return "environment is production or pr-<N>.";
  const process = q.get("process") || undefined;
  if (process !== undefined && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(process)) return "process is web, a process type of berth.yaml or a service name.";
  const tailRaw = q.get("tail") ?? "100";
  const tail = Number(tailRaw);
  if (!/^\d{1,5}$/.test(tailRaw) || tail > 10_000) return "tail is a number of lines from 0 to 10000 (per container).";
  const followRaw = q.get("follow") ?? "false";
  if (!["true", "false", "1", "0"].includes(followRaw)) return "follow is true or false.";
  return { environment, process, tail, follow: followRaw === "true" || followRaw === "1" };
}

/**
 * Runtime logs of an app environment's containers (web, processes, services), read from Docker on
 * the server the environment runs on: `GET /api/v1/apps/{app}/logs?environment=&process=&tail=&follow=`
 * (an API token that can read the app) and `/apps/{app}/logs/stream` (a dashboard session that can) as
 * newline-delimited JSON, streaming while following; `/apps/{app}/logs` is the page that follows them.
 */
export function runtimeLogRoutes(deps: RuntimeLogDeps): { api: ApiRoute[]; page: Route } {
  let following = 0;
  const maxFollowing = deps.maxFollowing ?? 64;

  const stream = async (req: IncomingMessage, res: ServerResponse, app: App, q: LogQuery): Promise<void> => {
    const server = await serverOf(deps.db, app.id, q.environment);
    const docker = await deps.engineFor(server);
    if (!docker) return sendError(res, 503, `berth cannot reach server ${server}; GET /api/v1/servers says why.`);
    const all = await appContainers(docker, deps.instance, app.name, q.environment);
    const containers = all.filter((c) => !q.process || c.process === q.process);
    if (containers.length === 0) {
      return sendError(res, 404, `${q.environment} of ${publicName(app)} has no ${q.process ? `${q.process} ` : ""}containers on ${server}${all.length ? `; its processes: ${[...new Set(all.map((c) => c.process))].join(", ")}` : ""}.`);
    }
    if (q.follow && following >= maxFollowing) return sendError(res, 429, `berth is following ${following} logs, its limit; retry in a minute, or read them without follow.`);
    const stop = new AbortController();
    const timer = q.follow ? setTimeout(() => stop.abort(), deps.maxFollowMs ?? 30 * 60_000) : undefined;
    res.once("close", () => stop.abort());
    const redactor = await appRedactor(deps.db, deps.box, app.id);
    if (q.follow) following++;
    res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
    res.flushHeaders(); // a quiet container writes nothing for a while: the client still learns it is following
    try {
      await readLogs(docker, containers, { tail: q.tail, follow: q.follow, signal: stop.signal }, (line) => {
        res.write(`${JSON.stringify(redactor.empty ? line : { ...line, line: redactor.redact(line.line) })}\n`);
        if (res.writableLength > 1 << 20) stop.abort(); // a reader slower than the containers write is cut off
      });
    } catch (e) {
      if (!stop.signal.aborted) res.write(`${JSON.stringify({ error: `reading the logs failed: ${(e as Error).message}` })}\n`);
    } finally {
      if (q.follow) following--;
      clearTimeout(timer);
      res.end();
    }
  };

  const api: ApiRoute = {
    method: "GET", path: "/api/v1/apps/{app}/logs", auth: "read", params: { app: APP_PARAM },
    summary: "Runtime logs of an environment's containers, newline-delimited JSON, streaming while following",
    query: {
      environment: { type: "string", pattern: "^(production|pr-[0-9]{1,9})$", description: "production (default) or pr-<N>" },
      process: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,62}$", description: "web, a process type or a service; all when absent" },
      tail: { type: "string", pattern: "^[0-9]{1,5}$", description: "lines per container from the end (default 100, at most 10000)" },
      follow: { type: "string", enum: ["true", "false", "1", "0"], description: "keep streaming new lines" },
    },
    responses: {
      200: { description: "one JSON object per line: {container, process, stream, time, line}", contentType: "application/x-ndjson" },
      400: err("a bad query"),
      404: err("no such app, or no such containers"),
      429: err("too many following streams"),
      503: err("berth cannot reach the environment's server"),
    },
    handle: async ({ req, res, url, app }) => {
      const q = parseLogQuery(url.searchParams);
      if (typeof q === "string") return sendError(res, 400, q);
      await stream(req, res, app, q);
    },
  };

  const page: Route = async (req, res, url) => {
    if (req.method !== "GET") return false;
    const m = /^\/apps\/([a-z0-9-]{1,63})\/logs(\/stream)?$/.exec(url.pathname);
    if (!m) return false;
    const viewer = await deps.auth.viewer(req);
    if (!viewer) {
      askToSignIn(req, res, url);
      return true;
    }
    const name = m[1]!;
    const app = await findAppByName(deps.db, name);
    try {
      if (!(app && allows(await deps.auth.access(viewer, app), "read"))) return notFound(res, name);
    } catch (e) {
      if (!(e instanceof SessionEnded)) throw e;
      askToSignIn(req, res, url);
      return true;
    }
    const q = parseLogQuery(url.searchParams);
    if (typeof q === "string") {
      sendError(res, 400, q);
      return true;
    }
    if (m[2]) await stream(req, res, app, q);
    else await logsPage(deps, res, app, q, viewer);
    return true;
  };
  return { api: [api], page };
}

function notFound(res: ServerResponse, name: string): true {
  sendError(res, 404, `No app named ${name}, or none you can read.`);
  return true;
}

/** The server an environment runs on: its live release's, else its newest release's, else berth's own. */
export async function serverOf(db: Db, appId: number, environment: string): Promise<string> {
  const row = await db
    .selectFrom("releases")
    .select("server")
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .orderBy((eb) => eb.case().when("state", "=", "live").then(0).else(1).end())
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.server ?? LOCAL_RELEASE_SERVER;
}

async function logsPage(deps: RuntimeLogDeps, res: ServerResponse, app: App, q: LogQuery, viewer: NonNullable<Awaited<ReturnType<DashboardAuth["viewer"]>>>): Promise<void> {
  const environments = (await appEnvironments(deps.db, app.id)).map((e) => ({ name: e.name, selected: e.name === q.environment }));
  const docker = await deps.engineFor(await serverOf(deps.db, app.id, q.environment));
  const containers: AppContainer[] = docker ? await appContainers(docker, deps.instance, app.name, q.environment).catch(() => []) : [];
  const processes = [...new Set(containers.map((c) => c.process))].sort().map((p) => ({ name: p, selected: p === q.process }));
  sendPage(res, 200, "logs.html", { viewer, name: publicName(app), environment: q.environment, environments, processes, tail: q.tail });
}
