import { createServer, type Server } from "node:http";
import { sql } from "kysely";
import type { Redis } from "ioredis";
import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import { sendError, sendJson, type Route } from "./respond.js";
import { takeWebhookBody } from "./webhook-intake.js";

export type WebhookMiddleware = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse, next?: () => void) => unknown;

export const WEBHOOK_PATH = "/api/github/webhooks";

/** /healthz: 200 when Postgres and Redis both answer within a second, 503 naming what did not. */
/** Whether Postgres and Redis answer within a second each. */
export async function probeHealth(db: Db, redis: Redis): Promise<{ pgOk: boolean; redisOk: boolean }> {
  const within = <T>(p: Promise<T>): Promise<T> => Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error("timeout")), 1000))]);
  const [pgOk, redisOk] = await Promise.all([
    within(sql`select 1`.execute(db)).then(() => true, () => false),
    within(redis.ping()).then((r) => r === "PONG", () => false),
  ]);
  return { pgOk, redisOk };
}

export function healthRoute(db: Db, redis: Redis): Route {
  return async (req, res, url) => {
    if (url.pathname !== "/healthz") return false;
    const { pgOk, redisOk } = await probeHealth(db, redis);
    sendJson(res, pgOk && redisOk ? 200 : 503, { postgres: pgOk ? "ok" : "down", redis: redisOk ? "ok" : "down" });
    return true;
  };
}

/** The one HTTP listener: GitHub webhooks first (answered by Probot), then berth's own routes. */
export function createHttpServer(webhooks: WebhookMiddleware | undefined, routes: Route[], log: Logger, metrics?: Pick<Metrics, "webhookAnswered">): Server {
  // A client trickling headers or a body must not hold a connection: GitHub sends both at once. The
  // timeouts are checked every second rather than Node's default 30 s.
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
    const url = new URL(req.url ?? "/", "http://berth.invalid");
    void (async () => {
      if (url.pathname === WEBHOOK_PATH) {
        const started = performance.now();
        res.once("finish", () => metrics?.webhookAnswered(req.headers["x-github-event"] as string | undefined, res.statusCode, (performance.now() - started) / 1000));
        if (!webhooks) return sendError(res, 503, "No GitHub App is configured: set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET, or open /setup.");
        if ((await takeWebhookBody(req, res)) === undefined) return;
        await webhooks(req, res, () => sendError(res, 404, "Not found"));
        return;
      }
      for (const route of routes) if (await route(req, res, url)) return;
      sendError(res, 404, `No route ${req.method} ${url.pathname}.`);
    })().catch((err: unknown) => {
      log.error({ err, path: url.pathname }, "request failed");
      if (!res.headersSent) sendError(res, 500, "berth failed to answer this request; its log has the details.");
      else res.end();
    });
  });
  return server;
}
