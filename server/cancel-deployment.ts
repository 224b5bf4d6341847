import { sql } from "kysely";
import { UserError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { dispatchBuilds, type DispatchDeps } from "../jobs/build-dispatch.js";
import type { CancelBus } from "../jobs/cancel-bus.js";
import { buildJobId } from "../jobs/queue.js";
import type { App, Deployment } from "../store/db.js";

export interface CancelDeps extends DispatchDeps {
  cancels: CancelBus;
  reporter: DeploymentReporter;
  log: Logger;
}

/** A cancel that cannot be done: the API answers with this status and message. */
export class CancelRefused extends UserError {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Stops what is left of a deployment already marked cancelled: its build process (wherever it runs),
 * its job if it has not started, and says so on its check run and Deployment.
 */
export async function stopCancelled(deps: Pick<CancelDeps, "cancels" | "queues" | "reporter">, app: App, d: Deployment, title: string, summary: string): Promise<void> {
  await deps.cancels.cancel(d.id);
  await (await deps.queues.build.getJob(buildJobId(d.id, d.sha)))?.remove().catch(() => undefined); // still waiting: never starts
  deps.reporter.cancelled(app, d, title, summary);
}

/**
 * Cancels a deployment that has not begun releasing (queued, waiting for approval, or building): its
 * build stops, its app's build slot goes to the next in line. A release under way is not cut short.
 */
export async function cancelDeployment(deps: CancelDeps, app: App, d: Deployment, by: string): Promise<Deployment> {
  const cancelled = await deps.db
    .updateTable("deployments")
    .set({ state: "cancelled", error: `Cancelled by ${by}.`, finished_at: sql`now()` })
    .where("id", "=", d.id)
    .where("state", "in", ["queued", "building", "waiting"])
    .returningAll()
    .executeTakeFirst();
  if (!cancelled) throw new CancelRefused(409, `Deployment ${d.id} is ${d.state}: only a queued, waiting or building deployment can be cancelled.`);
  await stopCancelled(deps, app, cancelled, "Cancelled", `Cancelled by ${by} before it was released.`);
  await dispatchBuilds(deps, app.id);
  deps.log.info({ app: app.name, environment: d.environment, sha: d.sha, deploymentId: d.id, by }, "deployment cancelled");
  return cancelled;
}
