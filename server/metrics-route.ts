import { sql } from "kysely";
import type { MetricsSnapshot, Metrics } from "../core/metrics.js";
import type { Sensitive } from "../core/sensitive.js";
import type { Queues } from "../jobs/queue.js";
import type { Db } from "../store/db.js";
import { apiAllowed } from "./admin-session.js";
import type { Route } from "./respond.js";
import type { Worker } from "bullmq";

const JOB_STATES = ["waiting", "active", "delayed", "failed", "prioritized"] as const;

/** What Postgres and BullMQ say right now, for the gauges of a scrape: a handful of grouped counts. */
export async function storeSnapshot(db: Db, queues: Pick<Queues, "build" | "release" | "teardown">): Promise<MetricsSnapshot> {
  const [deployments, environments, inbox, oldest, ...counts] = await Promise.all([
    db
      .selectFrom("deployments")
      .select(["state", sql<boolean>`environment = 'production'`.as("production"), sql<string>`count(*)`.as("n")])
      .groupBy(["state", sql`environment = 'production'`])
      .execute(),
    db.selectFrom("environments").select(["state", sql<string>`count(*)`.as("n")]).groupBy("state").execute(),
    db.selectFrom("webhook_deliveries").select(sql<string>`count(*)`.as("n")).where("processed_at", "is", null).executeTakeFirst(),
    db.selectFrom("deployments").select(sql<string | null>`extract(epoch from now() - min(created_at))`.as("s")).where("state", "=", "queued").executeTakeFirst(),
    ...(["build", "release", "teardown"] as const).map(async (q) => ({ queue: q, counts: await queues[q].getJobCounts(...JOB_STATES) })),
  ]);
  return {
    deployments: deployments.map((d) => ({ state: d.state, kind: d.production ? "production" : "preview", count: Number(d.n) })),
    environments: environments.map((e) => ({ state: e.state, count: Number(e.n) })),
    queues: (counts as { queue: string; counts: Record<string, number> }[]).flatMap(({ queue, counts: c }) => JOB_STATES.map((state) => ({ queue, state, count: c[state] ?? 0 }))),
    inboxPending: Number(inbox?.n ?? 0),
    oldestQueuedSeconds: Math.max(0, Number(oldest?.s ?? 0)),
  };
}

/** GET /metrics: Prometheus text format, behind the admin token (Prometheus sends it as a bearer token). */
export function metricsRoute(metrics: Metrics, token: Sensitive | undefined): Route {
  return async (req, res, url) => {
    if (url.pathname !== "/metrics" || req.method !== "GET") return false;
    if (!apiAllowed(req, res, token)) return true;
    const body = await metrics.render();
    res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" }).end(body);
    return true;
  };
}

/** Observes the phases of every deployment a release worker takes live. */
export function observeReleases(worker: Worker, db: Db, metrics: Metrics): void {
  worker.on("completed", (job, result) => {
    if (result !== "live") return;
    const id = (job.data as { deploymentId?: unknown }).deploymentId;
    if (typeof id !== "number") return;
    void db
      .selectFrom("deployments")
      .select(["environment", "phases"])
      .where("id", "=", id)
      .executeTakeFirst()
      .then((d) => d && metrics.wentLive(d.environment, d.phases))
      .catch(() => undefined); // a metric is never worth an error
  });
}
