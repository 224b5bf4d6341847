import { systemClock, type Clock } from "../core/clock.js";
import type { Db } from "../store/db.js";

/**
 * One check run per deployment, even when the server (queued) and a builder (started) report at the
 * same moment from different processes: whoever claims the empty `check_run_id` creates it, the others
 * wait for its id. The claim is this marker in the (bigint) column until GitHub's id replaces it; GitHub's
 * ids are positive.
 */
const CLAIMED = "-1";

/** The check-run id GitHub gave, or undefined while there is none yet (or one is being created). */
export function checkRunIdOf(stored: string | null | undefined): string | undefined {
  return stored && stored !== CLAIMED ? stored : undefined;
}

/** Takes the right to create the deployment's check run; false when it exists or another process has it. */
export async function claimCheckRun(db: Db, deploymentId: number): Promise<boolean> {
  const r = await db.updateTable("deployments").set({ check_run_id: CLAIMED }).where("id", "=", deploymentId).where("check_run_id", "is", null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Gives a claim back after creating the check run failed, so the next report tries again. */
export async function dropClaim(db: Db, deploymentId: number): Promise<void> {
  await db.updateTable("deployments").set({ check_run_id: null }).where("id", "=", deploymentId).where("check_run_id", "=", CLAIMED).execute();
}

/**
 * The id another process is creating, once it is stored. If it never comes (that process died between
 * claim and create), the claim is taken over and "claimed" returned: the caller creates the check run.
 */
export async function awaitCheckRunId(db: Db, deploymentId: number, timeoutMs = 30_000, pollMs = 200, clock: Clock = systemClock): Promise<string | "claimed" | undefined> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const row = await db.selectFrom("deployments").select("check_run_id").where("id", "=", deploymentId).executeTakeFirst();
    if (!row) return undefined;
    const id = checkRunIdOf(row.check_run_id);
    if (id) return id;
    if (row.check_run_id === null) return (await claimCheckRun(db, deploymentId)) ? "claimed" : awaitCheckRunId(db, deploymentId, Math.max(0, deadline - clock.now()), pollMs, clock);
    if (clock.now() >= deadline) {
      await dropClaim(db, deploymentId);
      return (await claimCheckRun(db, deploymentId)) ? "claimed" : undefined;
    }
    await clock.sleep(pollMs);
  }
}
