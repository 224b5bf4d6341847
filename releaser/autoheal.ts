import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import { LABEL, networkName } from "../core/names.js";
import { appendBuildLog } from "../store/queries.js";
import { sleepingKeys } from "../store/sleep-store.js";
import type { DockerHost } from "./docker-host.js";
import { success } from "./health-check.js";

/** Consecutive failed HTTP health probes per container, kept across reconciler passes. */
export type HttpFailures = Map<string, number>;

const HTTP_FAILURES_BEFORE_RESTART = 3;

/**
 * Restarts app containers whose health check fails after they went live: those Docker reports
 * unhealthy (manifest health commands become Docker HEALTHCHECKs) and live web containers whose
 * manifest `healthcheck.path` stopped answering 2xx/3xx three passes in a row. Each restart is logged
 * and written to the live deployment's log, where the deployment page shows it.
 */
export async function healOnce(deps: { db: Db; host: DockerHost; log: Logger }, failures: HttpFailures): Promise<string[]> {
  const healed: string[] = [];
  const restart = async (id: string, name: string, app: string, environment: string, deploymentId: string | undefined, why: string): Promise<void> => {
    deps.log.warn({ container: name, app, environment, why }, "autoheal: restarting unhealthy container");
    await deps.host.restartContainer(id);
    healed.push(name);
    const target = deploymentId ? Number(deploymentId) : await liveDeploymentId(deps.db, app, environment);
    if (target) await appendBuildLog(deps.db, target, `==> ${new Date().toISOString().slice(11, 23)} autoheal: restarted ${name}: ${why}\n`);
  };

  const { containers } = await deps.host.listManaged({});
  for (const c of containers) {
    if (c.health !== "unhealthy" || c.labels[LABEL.role] === "proxy") continue;
    await restart(c.id, c.name, c.labels[LABEL.app] ?? "", c.labels[LABEL.environment] ?? "", c.labels[LABEL.deployment], "Docker reported its health command failing");
  }

  const probed = await deps.db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .innerJoin("apps", "apps.id", "releases.app_id")
    .select(["releases.app_id", "releases.container_id", "releases.container_name", "releases.environment", "releases.upstream", "deployments.id as deployment_id", "deployments.manifest", "apps.name as app"])
    .where("releases.state", "=", "live")
    .where("releases.server", "=", deps.host.name)
    .execute();
  // A sleeping environment's containers are stopped on purpose (releaser/sleep.ts).
  const asleep = await sleepingKeys(deps.db);
  for (const r of probed) {
    if (asleep.has(`${r.app_id}:${r.environment}`)) continue;
    const check = r.manifest?.web.healthcheck;
    if (check?.kind !== "http" || !r.container_id) continue;
    const port = Number((r.upstream ?? "").split(":").pop());
    const target = { container: r.container_id, network: networkName(r.app, r.environment), port, path: check.path };
    const status = await deps.host.probeHttp(target, check.timeoutMs ?? 2000).catch(() => undefined);
    if (status !== undefined && success(status)) {
      failures.delete(r.container_id);
      continue;
    }
    const count = (failures.get(r.container_id) ?? 0) + 1;
    failures.set(r.container_id, count);
    if (count >= HTTP_FAILURES_BEFORE_RESTART) {
      failures.delete(r.container_id);
      await restart(r.container_id, r.container_name, r.app, r.environment, String(r.deployment_id), `${check.path} answered ${status ?? "nothing"} ${count} times in a row`);
    }
  }
  return healed;
}

async function liveDeploymentId(db: Db, app: string, environment: string): Promise<number | undefined> {
  const row = await db
    .selectFrom("releases")
    .innerJoin("apps", "apps.id", "releases.app_id")
    .select("releases.deployment_id")
    .where("apps.name", "=", app)
    .where("releases.environment", "=", environment)
    .where("releases.state", "=", "live")
    .executeTakeFirst();
  return row?.deployment_id;
}
