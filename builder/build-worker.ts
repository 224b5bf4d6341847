import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import { dispatchAfter, sweepBuilds } from "../jobs/build-dispatch.js";
import type { CancelBus } from "../jobs/cancel-bus.js";
import { BUILD_QUEUE, releaseJobId, WORKER_LIVENESS, type DeploymentJob, type Queues } from "../jobs/queue.js";
import { failForBerth, reportExhaustedJob } from "../jobs/worker-errors.js";
import { runBuild, type BuildDeps } from "./build-workflow.js";

export interface BuildLimits {
  /** Builds this process runs at once. */
  concurrency: number;
  /** Builds of one app that may run at once, across processes, unless the app sets its own limit. */
  appConcurrency: number;
  /** How often waiting and orphaned builds are swept (jobs/build-dispatch.ts). */
  sweepMs: number;
}

/**
 * The build role: takes build jobs, hands a built deployment to the release queue, and frees its app's
 * build slot for the next deployment in line. Returns the worker and a stop for the sweeper.
 */
export function startBuildWorker(deps: BuildDeps, queues: Queues, cancels: CancelBus, connection: Redis, limits: BuildLimits): { worker: Worker<DeploymentJob>; stop: () => void } {
  const dispatch = { db: deps.db, queues, appBuildConcurrency: limits.appConcurrency };
  const next = (deploymentId: number): void =>
    void dispatchAfter(dispatch, deploymentId).catch((err: unknown) => deps.log.warn({ err, deploymentId }, "could not dispatch the next build; the sweeper will"));
  const worker = new Worker<DeploymentJob>(
    BUILD_QUEUE,
    async (job, _token, signal) => {
      const tracked = cancels.track(job.data.deploymentId, signal);
      const outcome = await runBuild(deps, job.data.deploymentId, tracked.signal).finally(tracked.done);
      if (outcome === "built") {
        await queues.release.add("release", job.data, { jobId: releaseJobId(job.data.deploymentId, job.data.sha) });
      }
      next(job.data.deploymentId);
      return outcome;
    },
    { connection, concurrency: limits.concurrency, ...WORKER_LIVENESS },
  );
  worker.on("failed", (job, err) => {
    void reportExhaustedJob(deps, job, err, "build")
      .then(() => job && next(job.data.deploymentId))
      .catch((e: unknown) => deps.log.error({ err: e }, "failure report failed"));
  });
  worker.on("error", (err) => deps.log.error({ err }, "build worker error"));
  const timer = setInterval(() => {
    sweepBuilds(dispatch)
      .then((r) => {
        if (r.requeued.length) deps.log.warn({ deployments: r.requeued }, "build jobs lost from the queue were queued again");
        if (r.releases.length) deps.log.warn({ deployments: r.releases }, "release jobs lost from the queue were queued again");
        for (const o of r.orphaned) {
          deps.log.warn({ deploymentId: o.id, phase: o.phase }, "job ended without its outcome recorded; failing the deployment");
          void failForBerth(deps, o.id, o.phase, "(its job ended without recording an outcome, most likely because berth stopped at that moment)")
            .then(() => next(o.id))
            .catch((err: unknown) => deps.log.warn({ err, deploymentId: o.id }, "could not fail an orphaned deployment"));
        }
      })
      .catch((err: unknown) => deps.log.warn({ err }, "build sweep failed"));
  }, limits.sweepMs);
  timer.unref();
  return { worker, stop: () => clearInterval(timer) };
}
