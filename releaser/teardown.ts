import type { Fleet } from "./fleet.js";
import { forgetPlacement } from "../store/placement-store.js";
import { sql } from "kysely";
import type { CancelBus } from "../jobs/cancel-bus.js";
import type { App, Db } from "../store/db.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { environmentImages, getEnvironment, latestReported, markTornDown, supersedeOlder } from "../store/environment-store.js";
import { buildRunning } from "./image-prune.js";
import type { Logger } from "../core/logger.js";
import { LABEL } from "../core/names.js";
import type { DockerHost } from "./docker-host.js";
import type { IngressProxy } from "./ingress-proxy.js";
import { applyRoutes } from "./routes.js";
import { lockKeys, withLock } from "../store/locks.js";
import { planTeardown } from "./teardown-plan.js";

export interface TeardownDeps {
  db: Db;
  /** The built-in server's; with a fleet, an environment is torn down on the server it lives on. */
  host: DockerHost;
  proxy: IngressProxy;
  fleet?: Fleet;
  reporter: DeploymentReporter;
  cancels: CancelBus;
  log: Logger;
}

/**
 * Removes an environment completely: its in-flight builds, its route, containers, network, volumes
 * and images; then marks its GitHub Deployment inactive and says so on the PR. Idempotent, so a crash
 * halfway is finished by the reconciler's next pass; false when there was nothing left to do.
 */
export async function teardownEnvironment(fleetDeps: TeardownDeps, app: App, environment: string, state: "removed" | "expired", note: string): Promise<boolean> {
  return withLock(fleetDeps.db, lockKeys.release(app.id, environment), async () => {
    // A droid that cannot be reached throws here: the reconciler's next pass tries again.
    const droid = await fleetDeps.fleet?.of(app.id, environment);
    if (droid && fleetDeps.fleet && droid !== fleetDeps.fleet.local) await fleetDeps.fleet.reachable(droid);
    const deps = droid ? { ...fleetDeps, host: droid.host, proxy: droid.proxy, frontDoor: fleetDeps.fleet } : fleetDeps;
    const { db } = deps;
    // Decided before the lock: a pull request reopened meanwhile, or another teardown (the close's
    // job, or a reconciler pass) that finished first, leaves nothing for this one to do.
    const current = await getEnvironment(db, app.id, environment);
    if (current && (current.state === "open" || current.torn_down_at !== null)) {
      deps.log.info({ app: app.name, environment, state: current.state }, "teardown skipped: the environment was reopened or already torn down");
      return false;
    }
    for (const d of await supersedeOlder(db, app.id, environment, 2_147_483_647 /* every deployment id */)) {
      await deps.cancels.cancel(d.id);
      deps.reporter.cancelled(app, d, "Cancelled: the environment was removed", "The pull request was closed (or its preview expired) before this commit was released.");
    }
    await db
      .updateTable("releases")
      .set({ state: "stopped", stopped_at: sql`now()` })
      .where("app_id", "=", app.id)
      .where("environment", "=", environment)
      .where("state", "in", ["starting", "live", "draining"])
      .execute();
    await applyRoutes(deps);
    // Its images go last, and not while one of the app's builds runs: a pull request reopened while this
    // ran builds the same commit from their layers (the classic builder's cache). The next prune takes them.
    await removeResources(deps, app.name, environment, await environmentImages(db, app.id, environment), () => buildRunning(db, app.id));
    await db.updateTable("deployments").set({ state: "removed" }).where("app_id", "=", app.id).where("environment", "=", environment).where("state", "=", "live").execute();
    if (current) await markTornDown(db, current.id);
    await forgetPlacement(db, app.id, environment);
    deps.reporter.removed(app, environment, await latestReported(db, app.id, environment), state, note);
    deps.log.info({ app: app.name, environment }, "environment torn down");
    return true;
  });
}

/** Removes whatever runs on the droid server for an app environment, found by labels. */
export async function removeResources(deps: Pick<TeardownDeps, "host" | "log">, app: string, environment: string, images: readonly string[] = [], keepImages: () => Promise<boolean> = async () => false): Promise<void> {
  const { host } = deps;
  const plan = planTeardown(await host.listManaged({ [LABEL.app]: app, [LABEL.environment]: environment }), images);
  for (const name of plan.containers) {
    await host.stopContainer(name, 5);
    await host.removeContainer(name);
  }
  for (const name of plan.networks) await host.removeNetwork(name);
  for (const name of plan.volumes) await host.removeVolume(name);
  if (plan.images.length && (await keepImages())) return deps.log.info({ app, environment }, "images kept for now: a build of the app is running");
  for (const ref of plan.images) {
    if (!(await host.removeImage(ref))) deps.log.info({ image: ref }, "image kept: another environment's container uses it");
  }
}
