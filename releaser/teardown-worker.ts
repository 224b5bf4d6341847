import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import { TEARDOWN_QUEUE, WORKER_LIVENESS, type TeardownJob } from "../jobs/queue.js";
import { teardownEnvironment, type TeardownDeps } from "./teardown.js";

/** Tears down environments whose pull request closed; the reconciler retries what fails here. */
export function startTeardownWorker(deps: TeardownDeps, connection: Redis): Worker<TeardownJob> {
  const worker = new Worker<TeardownJob>(
    TEARDOWN_QUEUE,
    async (job) => {
      const app = await deps.db.selectFrom("apps").selectAll().where("id", "=", job.data.appId).executeTakeFirst();
      if (!app) return "skipped";
      await teardownEnvironment(deps, app, job.data.environment, job.data.state, job.data.note);
      return "torn down";
    },
    { connection, concurrency: 2, ...WORKER_LIVENESS },
  );
  worker.on("error", (err) => deps.log.error({ err }, "teardown worker error"));
  return worker;
}
