import { sql } from "kysely";
import type { Db, Deployment } from "../store/db.js";
import { lockForTransaction, lockKeys } from "../store/locks.js";
import { systemClock, type Clock } from "../core/clock.js";
import { phaseStamp } from "../store/phases.js";
import { buildJobId, releaseJobId, type Queues } from "./queue.js";

export interface DispatchDeps {
  db: Db;
  /** The release queue is only needed by the sweeper, to requeue releases Redis lost. */
  queues: Pick<Queues, "build"> & Partial<Pick<Queues, "release">>;
  /** Builds of one app that may run at once unless the app sets its own limit. */
  appBuildConcurrency: number;
  /** Decides which dispatched jobs are overdue; the system clock unless a test passes its own. */
  clock?: Clock;
}

/**
 * Hands an app's queued deployments to the build queue, oldest first, while fewer of its builds than
 * its limit are in flight. The global limit is the build queue's; this one keeps one busy app from
 * taking every builder and keeps each app's builds in push order. Postgres decides, under a per-app
 * lock, so the limit holds across server and builder processes. Returns what it handed over.
 */
export async function dispatchBuilds(deps: DispatchDeps, appId: number): Promise<Deployment[]> {
  const picked = await deps.db.transaction().execute(async (tx) => {
    await lockForTransaction(tx, lockKeys.dispatch(appId)); // one dispatcher per app, across processes
    const app = await tx.selectFrom("apps").select("build_concurrency").where("id", "=", appId).executeTakeFirst();
    if (!app) return [];
    const limit = app.build_concurrency ?? deps.appBuildConcurrency;
    const active = await tx
      .selectFrom("deployments")
      .select(["id", "dispatched_at"])
      .where("app_id", "=", appId)
      .where("state", "in", ["queued", "building"])
      .orderBy("id")
      .execute();
    const inFlight = active.filter((d) => d.dispatched_at !== null).length;
    const next = active.filter((d) => d.dispatched_at === null).slice(0, Math.max(0, limit - inFlight));
    if (next.length === 0) return [];
    return tx
      .updateTable("deployments")
      // Stamped in the same statement: timing the queue costs no round trip of its own.
      .set({ dispatched_at: sql`now()`, phases: phaseStamp("queued", (deps.clock ?? systemClock).now()) })
      .where("id", "in", next.map((d) => d.id))
      .where("state", "=", "queued") // one cancelled meanwhile (supersede takes no lock) is left out
      .where("dispatched_at", "is", null)
      .returningAll()
      .execute();
  });
  // After the commit: a job for a deployment another transaction cancelled meanwhile finds it cancelled and skips.
  for (const d of picked.sort((a, b) => a.id - b.id)) await enqueueBuild(deps, d);
  return picked;
}

/** Job ids derive from the deployment, so enqueueing twice is a no-op. */
async function enqueueBuild(deps: Pick<DispatchDeps, "queues">, d: Pick<Deployment, "id" | "sha">): Promise<void> {
  await deps.queues.build.add("build", { deploymentId: d.id, sha: d.sha }, { jobId: buildJobId(d.id, d.sha) });
}

/** Re-dispatches the app of a deployment whose build just ended, freeing its slot for the next one. */
export async function dispatchAfter(deps: DispatchDeps, deploymentId: number): Promise<Deployment[]> {
  const row = await deps.db.selectFrom("deployments").select("app_id").where("id", "=", deploymentId).executeTakeFirst();
  return row ? dispatchBuilds(deps, row.app_id) : [];
}

export interface SweepReport {
  /** Dispatched deployments whose job BullMQ no longer had (Redis lost or flushed), queued again. */
  requeued: number[];
  dispatched: number[];
  /** Built deployments whose release job was lost, queued for release again. */
  releases: number[];
  /** Deployments still building or releasing whose job already ended: the outcome was never recorded. */
  orphaned: { id: number; phase: "build" | "release" }[];
}

// A release job lost longer ago than this is not revived: its image may be pruned, its commit long superseded.
const RELEASE_MAX_AGE_MS = 24 * 3600_000;

/**
 * The level-triggered safety net. A dispatched deployment whose build job is gone (Redis lost its data,
 * a crash between commit and enqueue) is queued again; one whose job ended without its outcome being
 * recorded (the builder stopped right after) is reported as orphaned, so its app's slot is not held
 * until BullMQ forgets the job. Every app with waiting deployments gets a dispatch, so no line stalls.
 * Releases the same way. `graceMs` spares the ones just handed over: a few seconds are plenty, since
 * job ids derive from the deployment and queueing one the dispatcher is about to queue is a no-op.
 * (It was 30 s, which kept a Redis wiped under a running build idle for half a minute.)
 */
export async function sweepBuilds(deps: DispatchDeps, graceMs = 5_000): Promise<SweepReport> {
  const report: SweepReport = { requeued: [], dispatched: [], releases: [], orphaned: [] };
  const active = await deps.db
    .selectFrom("deployments")
    .select(["id", "app_id", "sha", "dispatched_at"])
    .where("state", "in", ["queued", "building"])
    .orderBy("id")
    .execute();
  const now = (deps.clock ?? systemClock).now();
  const cutoff = now - graceMs;
  for (const d of active) {
    if (!d.dispatched_at || d.dispatched_at.getTime() > cutoff) continue;
    const job = await deps.queues.build.getJob(buildJobId(d.id, d.sha));
    if (!job) {
      await enqueueBuild(deps, d);
      report.requeued.push(d.id);
    } else if (ENDED.has(await job.getState())) {
      report.orphaned.push({ id: d.id, phase: "build" });
    }
  }
  for (const appId of new Set(active.filter((d) => !d.dispatched_at).map((d) => d.app_id))) {
    report.dispatched.push(...(await dispatchBuilds(deps, appId)).map((d) => d.id));
  }
  const release = deps.queues.release;
  if (release) {
    const built = await deps.db.selectFrom("deployments").select(["id", "sha", "built_at"]).where("state", "=", "releasing").orderBy("id").execute();
    for (const d of built) {
      if (!d.built_at || d.built_at.getTime() > cutoff || d.built_at.getTime() < now - RELEASE_MAX_AGE_MS) continue;
      const job = await release.getJob(releaseJobId(d.id, d.sha));
      if (!job) {
        await release.add("release", { deploymentId: d.id, sha: d.sha }, { jobId: releaseJobId(d.id, d.sha) });
        report.releases.push(d.id);
      } else if (ENDED.has(await job.getState())) {
        report.orphaned.push({ id: d.id, phase: "release" });
      }
    }
  }
  return report;
}

const ENDED = new Set(["completed", "failed"]);
