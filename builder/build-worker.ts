import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { CancelBus } from "../core/cancel-bus.js";
import { BUILD_QUEUE, releaseJobId, type DeploymentJob, type Queues } from "../core/queue.js";
import { reportExhaustedJob } from "../core/worker-errors.js";
import { runBuild, type BuildDeps } from "./build-workflow.js";

/** The build role: takes build jobs, and hands a built deployment to the release queue. */
export function startBuildWorker(deps: BuildDeps, queues: Queues, cancels: CancelBus, connection: Redis, concurrency: number): Worker<DeploymentJob> {
  const worker = new Worker<DeploymentJob>(
    BUILD_QUEUE,
    async (job, _token, signal) => {
      const tracked = cancels.track(job.data.deploymentId, signal);
      const outcome = await runBuild(deps, job.data.deploymentId, tracked.signal).finally(tracked.done);
      if (outcome === "built") {
        await queues.release.add("release", job.data, { jobId: releaseJobId(job.data.deploymentId, job.data.sha) });
      }
      return outcome;
    },
    { connection, concurrency, lockDuration: 60_000 },
  );
  worker.on("failed", (job, err) => void reportExhaustedJob(deps, job, err, "build").catch((e) => deps.log.error({ err: e }, "failure report failed")));
  worker.on("error", (err) => deps.log.error({ err }, "build worker error"));
  return worker;
}
