import { sql } from "kysely";
import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import { getDeployment } from "../store/queries.js";
import type { DeploymentReporter } from "./deployment-reporter.js";

// Reports of a live process go out within seconds (GitHub's pacing is a second per write); older than
// this, nobody is sending them. Past a day the commit is history and its check run not worth a write.
const SETTLE_MS = 20_000;
const MAX_AGE_MS = 24 * 3600_000;

/**
 * Sends again the outcome of finished deployments whose check run never got one: reports are durable
 * once in the outbox (github/report-outbox.ts), but berth killed between recording an outcome and
 * writing its report left the check run in progress. Only deployments with a check run are
 * considered; a resend the outbox still holds unsent is coalesced with it. Returns the ids re-sent.
 */
export async function resendLostReports(deps: { db: Db; reporter: DeploymentReporter; log: Logger }): Promise<number[]> {
  const now = Date.now();
  const lost = await deps.db
    .selectFrom("deployments")
    .select("id")
    .where("state", "in", ["live", "replaced", "failed", "cancelled", "skipped"])
    .where("reported", "is", null)
    .where("check_run_id", "is not", null)
    .where("finished_at", "<", new Date(now - SETTLE_MS))
    .where("finished_at", ">", new Date(now - MAX_AGE_MS))
    .orderBy("id")
    .execute();
  const sent: number[] = [];
  for (const { id } of lost) {
    const found = await getDeployment(deps.db, id);
    if (!found) continue;
    const { app, deployment: d } = found;
    const note = "(berth stopped before it could report this outcome; sent again after it restarted)";
    if (d.state === "live" || d.state === "replaced") {
      deps.reporter.succeeded(app, d, { url: d.url ?? "", image: d.image ?? "", buildSeconds: seconds(d.started_at, d.built_at), releaseSeconds: seconds(d.built_at, d.finished_at) });
    } else if (d.state === "failed") {
      deps.reporter.failed(app, d, { title: "Deployment failed", message: `${d.error ?? "The deployment failed."} ${note}`, previousLive: false });
    } else if (d.state === "cancelled") {
      deps.reporter.cancelled(app, d, "Cancelled", `${d.error ?? "This deployment was cancelled."} ${note}`);
    } else {
      deps.reporter.skipped(app, d, "Skipped", `${d.error ?? "Nothing was built for this commit."} ${note}`);
    }
    // Marked now, so the next pass does not queue it again while GitHub's pacing holds it; a send that
    // fails after this is logged by the reporter, as any other.
    await deps.db.updateTable("deployments").set({ reported: sql`coalesce(reported, 'resent')` }).where("id", "=", id).execute();
    sent.push(id);
  }
  if (sent.length) deps.log.warn({ deployments: sent }, "outcomes never reported to GitHub were sent again");
  return sent;
}

function seconds(a: Date | null, b: Date | null): number {
  return a && b ? Math.round((b.getTime() - a.getTime()) / 100) / 10 : 0;
}
