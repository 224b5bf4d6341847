import type { Db } from "../store/db.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { lockKeys, withLockIfFree } from "../store/locks.js";
import { appendBuildLog, getDeployment, liveRelease, setDeploymentState } from "../store/queries.js";
import { releaseTimes } from "../store/phases.js";

/**
 * Records live the releases a dead process switched to but never recorded (berth killed during the
 * route switch or right after it): Postgres already routes the environment to the release, and the
 * reconciler has just applied that to the proxy, so only the deployment's state and its report are
 * missing. A release holds its environment's lock to the end, so a free lock means nobody is left to
 * finish it; without this, the environment waited for BullMQ to hand the job back (or for ever, when
 * the job was lost or had used up its attempts) with its check run in progress. Returns the
 * deployments finished; their old releases are drained by finishDrains after this.
 */
export async function finishSwitches(deps: { db: Db; reporter: DeploymentReporter }): Promise<number[]> {
  const switched = await deps.db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .select(["deployments.id", "releases.app_id", "releases.environment"])
    .where("releases.state", "=", "live")
    .where("deployments.state", "=", "releasing")
    .execute();
  const finished: number[] = [];
  for (const { id, app_id, environment } of switched) {
    await withLockIfFree(deps.db, lockKeys.release(app_id, environment), async () => {
      const found = await getDeployment(deps.db, id);
      if (found?.deployment.state !== "releasing" || (await liveRelease(deps.db, app_id, environment))?.deployment_id !== id) return;
      const url = deps.reporter.environmentUrl(found.app, environment);
      await setDeploymentState(deps.db, id, "live", { url });
      const d = (await getDeployment(deps.db, id))?.deployment ?? found.deployment;
      deps.reporter.succeeded(found.app, d, { url, image: d.image ?? "", ...releaseTimes(d) });
      await appendBuildLog(deps.db, id, `==> ${new Date().toISOString().slice(11, 23)} live at ${url} (the release was switched by a berth process that stopped before recording it; finished by the reconciler)\n`);
      finished.push(id);
    });
  }
  return finished;
}
