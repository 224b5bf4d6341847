import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import type { App, Db } from "../store/db.js";
import type { LogWriter } from "../store/log-writer.js";
import type { DockerHost } from "./docker-host.js";
import type { Fleet } from "./fleet.js";
import type { IngressProxy } from "./ingress-proxy.js";
import { drainingReleases, markReplaced } from "./release/state.js";
import { applyRoutes, type FrontDoor } from "./routes.js";
import { removeResources } from "./teardown.js";

export interface DrainDeps {
  db: Db;
  host: DockerHost;
  proxy: IngressProxy;
  log: Logger;
  settings: { drainMs: number };
  clock?: Clock;
  fleet?: Fleet;
  frontDoor?: FrontDoor;
}

/**
 * Stops and removes every release of the environment left draining (in-flight requests finish first).
 * A release on another server than this one's was left behind by a move: its container goes, and so
 * does everything else of the environment there (network, services), with that server's routes.
 */
export async function drainOld(deps: DrainDeps, app: App, environment: string, logs: LogWriter): Promise<void> {
  const draining = await drainingReleases(deps.db, app.id, environment);
  if (draining.length === 0) return;
  await (deps.clock ?? systemClock).sleep(deps.settings.drainMs);
  for (const old of draining) {
    const moved = old.server !== deps.host.name && deps.fleet ? await deps.fleet.get(old.server) : undefined;
    if (moved) {
      // The server left behind may be down: its release stays draining, and the reconciler's pass over
      // that server stops it once it answers.
      const down = await deps.fleet?.reachable(moved).then(() => undefined, (e: Error) => e.message);
      if (down) {
        logs.note(`previous release ${old.container_name} left draining: ${down}`);
        continue;
      }
    }
    const host = moved?.host ?? deps.host;
    if (old.container_id) {
      await host.stopContainer(old.container_id, 10);
      await host.removeContainer(old.container_id);
    }
    await markReplaced(deps.db, old);
    logs.note(`removed previous release ${old.container_name}${moved ? ` on server ${moved.shown}` : ""}`);
    if (moved) {
      await removeResources({ host: moved.host, log: deps.log }, app.name, environment);
      await applyRoutes({ db: deps.db, host: moved.host, proxy: moved.proxy, frontDoor: deps.frontDoor });
      logs.note(`${environment} moved off server ${moved.shown}: its containers and network there are removed`);
    }
  }
}
