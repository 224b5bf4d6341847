import type { Job } from "bullmq";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import type { DeploymentJob } from "./queue.js";
import { getDeployment, liveRelease, setDeploymentState } from "../store/queries.js";

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
  deps.log.error({ err, deploymentId: job.data.deploymentId }, `${phase} failed after ${attempts} attempts`);
  await failForBerth(deps, job.data.deploymentId, phase, `after ${attempts} attempts: ${err.message}`);
}

/**
 * Fails a deployment for a reason of berth's own (its job exhausted its retries, or ended without its
 * outcome recorded) and says so on GitHub; one that already reached a final state is left alone.
 */
export async function failForBerth(deps: { db: Db; reporter: DeploymentReporter }, deploymentId: number, phase: "build" | "release", why: string): Promise<void> {
  const found = await getDeployment(deps.db, deploymentId);
  if (!found || ["failed", "live", "cancelled", "removed", "skipped", "replaced"].includes(found.deployment.state)) return;
  // Switched already (its job died after the switch): it serves, and the reconciler records it live (releaser/finish-switches.ts).
  if ((await liveRelease(deps.db, found.app.id, found.deployment.environment))?.deployment_id === deploymentId) return;
  const message = `berth could not ${phase} this commit ${why}. This is a problem of the berth installation, not of the repository; its operator should check berth's log, and a new push retries.`;
  await setDeploymentState(deps.db, found.deployment.id, "failed", { error: message });
  deps.reporter.failed(found.app, found.deployment, { title: `berth could not ${phase}`, message, previousLive: false });
}
