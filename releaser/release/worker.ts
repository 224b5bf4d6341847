import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import { RELEASE_QUEUE, WORKER_LIVENESS, type DeploymentJob } from "../../jobs/queue.js";
import { reportExhaustedJob } from "../../jobs/worker-errors.js";
import { runRelease, type ReleaseDeps } from "./workflow.js";

/** The release role. Releases of different environments run side by side; one environment's are serialized by a lock. */
export function startReleaseWorker(deps: ReleaseDeps, connection: Redis, concurrency = 4): Worker<DeploymentJob> {
  const worker = new Worker<DeploymentJob>(RELEASE_QUEUE, async (job, _token, signal) => runRelease(deps, job.data.deploymentId, signal), {
    connection,
    concurrency,
    ...WORKER_LIVENESS,
  });
  worker.on("failed", (job, err) => void reportExhaustedJob(deps, job, err, "release").catch((e) => deps.log.error({ err: e }, "failure report failed")));
  worker.on("error", (err) => deps.log.error({ err }, "release worker error"));
  return worker;
}
