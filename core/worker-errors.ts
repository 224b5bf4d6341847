import type { Job } from "bullmq";
import type { DeploymentReporter } from "./deployment-reporter.js";
import type { Db } from "./db.js";
import type { Logger } from "./logger.js";
import type { DeploymentJob } from "./queue.js";
import { getDeployment, setDeploymentState } from "./store.js";

/**
 * After the last retry of an infrastructure failure, the deployment fails for good: say so on GitHub,
 * with what berth could not do and that the operator (not the pusher) has to look.
 */
export async function reportExhaustedJob(
  deps: { db: Db; reporter: DeploymentReporter; log: Logger },
  job: Job<DeploymentJob> | undefined,
  err: Error,
  phase: "build" | "release",
): Promise<void> {
  if (!job) return;
  const attempts = job.opts.attempts ?? 1;
  if (job.attemptsMade < attempts) return;
  const found = await getDeployment(deps.db, job.data.deploymentId);
  if (!found || ["failed", "live", "cancelled", "removed"].includes(found.deployment.state)) return;
  deps.log.error({ err, deploymentId: job.data.deploymentId }, `${phase} failed after ${attempts} attempts`);
  const message = `berth could not ${phase} this commit after ${attempts} attempts: ${err.message}. This is a problem of the berth installation, not of the repository; its operator should check berth's log.`;
  await setDeploymentState(deps.db, found.deployment.id, "failed", { error: message });
  deps.reporter.failed(found.app, found.deployment, { title: `berth could not ${phase}`, message, previousLive: false });
}
