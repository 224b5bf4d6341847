import { repoRef, WRITE_ROLES } from "../github/github-reporter.js";
import { RollbackRefused } from "../jobs/rollback.js";
import { PRODUCTION } from "../core/names.js";
import type { App, Deployment } from "../store/db.js";
import { liveRelease } from "../store/queries.js";
import { RedeployRefused, redeploy } from "./redeploy.js";
import type { WebhookDeps } from "./start-deployment.js";

/** What berth reads of a `check_run` delivery. */
export interface CheckRunEvent {
  action: string;
  installation?: { id: number } | null;
  sender?: { login: string };
  repository: { id: number; full_name: string };
  check_run: { id: number; head_sha: string };
  requested_action?: { identifier: string } | null;
}

export interface CheckRunDeps extends WebhookDeps {
  /** Puts production's previous release back (jobs/rollback.ts). */
  rollback: (app: App) => Promise<Deployment>;
}

export type CheckRunOutcome = "queued" | "rollback" | "ignored" | "refused";

/**
 * GitHub's own buttons on berth's check runs: **Re-run** (`rerequested`) and berth's **Redeploy**
 * build and release that commit again in its environment; **Roll back**, on the check run of what
 * production runs, puts the release before it back. Only for check runs berth made (found by id), and
 * only for a sender GitHub says has write access; a closed preview is not brought back this way, and a
 * fork's preview is rebuilt only at the commit a writer approved.
 */
export async function handleCheckRun(deps: CheckRunDeps, deliveryId: string, payload: CheckRunEvent): Promise<CheckRunOutcome> {
  const wanted = payload.action === "rerequested" ? "redeploy" : payload.action === "requested_action" ? payload.requested_action?.identifier : undefined;
  if (wanted !== "redeploy" && wanted !== "rollback") return "ignored";
  const app = await deps.db.selectFrom("apps").selectAll().where("repo_id", "=", String(payload.repository.id)).executeTakeFirst();
  const d = app && (await deps.db.selectFrom("deployments").selectAll().where("app_id", "=", app.id).where("check_run_id", "=", String(payload.check_run.id)).executeTakeFirst());
  if (!app || !d) return "ignored"; // not a check run of berth's
  const who = payload.sender?.login ?? "(unknown)";
  const role = await deps.github.permission(repoRef(app), who);
  const log = deps.log.child({ deliveryId, app: app.name, environment: d.environment, sha: d.sha, by: who });
  if (!WRITE_ROLES.has(role)) {
    log.warn({ role, wanted }, "check run action refused: the sender cannot write to the repository");
    return "refused";
  }
  if (wanted === "rollback") return rollBack(deps, app, d, log);
  try {
    await redeploy(deps, app, { environment: d.environment, sha: d.sha, deliveryId });
  } catch (e) {
    if (!(e instanceof RedeployRefused)) throw e;
    log.warn({ reason: e.message }, "redeploy refused");
    return "refused";
  }
  log.info({ wanted }, "redeploy asked on GitHub");
  return "queued";
}

async function rollBack(deps: CheckRunDeps, app: App, d: Deployment, log: WebhookDeps["log"]): Promise<CheckRunOutcome> {
  const live = await liveRelease(deps.db, app.id, PRODUCTION);
  if (d.environment !== PRODUCTION || live?.deployment_id !== d.id) {
    log.warn("roll back refused: this check run's deployment is not what production runs");
    return "refused";
  }
  try {
    const back = await deps.rollback(app);
    log.info({ to: back.sha }, "roll back asked on GitHub");
    return "rollback";
  } catch (e) {
    if (!(e instanceof RollbackRefused)) throw e;
    log.warn({ reason: e.message }, "roll back refused");
    return "refused";
  }
}
