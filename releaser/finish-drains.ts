import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import { lockKeys, withLockIfFree } from "../store/locks.js";
import type { DockerHost } from "./docker-host.js";
import type { IngressProxy } from "./ingress-proxy.js";
import { markReplaced } from "./release/state.js";
import { applyRoutes, type FrontDoor } from "./routes.js";
import { removeResources } from "./teardown.js";

/**
 * Stops releases left draining by a release that died after its switch (berth killed during the drain).
 * A release holds its environment's lock until its drain is done, and a dead process's advisory locks
 * end with its connection, so a draining release whose lock is free has nobody left to stop it: its
 * retried job finds the deployment live and does nothing. An environment that moved to another server
 * goes from this one whole, as drainOld does it: its network and services, and its route here.
 * Returns the containers stopped.
 */
export async function finishDrains(deps: { db: Db; host: DockerHost; log: Logger; proxy: IngressProxy; frontDoor?: FrontDoor }): Promise<string[]> {
  const envs = await deps.db.selectFrom("releases").select(["app_id", "environment"]).distinct().where("state", "=", "draining").where("server", "=", deps.host.name).execute();
  const stopped: string[] = [];
  let movedAway = false;
  for (const { app_id, environment } of envs) {
    await withLockIfFree(deps.db, lockKeys.release(app_id, environment), async () => {
      const draining = await deps.db.selectFrom("releases").selectAll().where("app_id", "=", app_id).where("environment", "=", environment).where("state", "=", "draining").where("server", "=", deps.host.name).execute();
      for (const old of draining) {
        if (old.container_id) {
          await deps.host.stopContainer(old.container_id, 10);
          await deps.host.removeContainer(old.container_id);
        }
        await markReplaced(deps.db, old);
        stopped.push(old.container_name);
      }
      const live = await deps.db.selectFrom("releases").innerJoin("apps", "apps.id", "releases.app_id").select(["apps.name", "releases.server"]).where("releases.app_id", "=", app_id).where("releases.environment", "=", environment).where("releases.state", "=", "live").executeTakeFirst();
      if (live && live.server !== deps.host.name) {
        await removeResources(deps, live.name, environment);
        movedAway = true;
      }
    });
  }
  if (movedAway) await applyRoutes(deps);
  return stopped;
}
