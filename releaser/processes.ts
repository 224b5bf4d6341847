import type { App, Deployment } from "../store/db.js";
import { UserError, lastLines } from "../core/errors.js";
import type { LogWriter } from "../store/log-writer.js";
import type { Manifest } from "../manifest/manifest.js";
import { LABEL } from "../core/names.js";
import { systemClock, type Clock } from "../core/clock.js";
import { waitForCommand } from "./app-stack.js";
import type { AppLimits } from "../core/config.js";
import type { DockerHost } from "./docker-host.js";
import { planProcessContainers } from "./process-plan.js";
import { volumeName } from "./service-plan.js";

export interface ProcessContext {
  manifest: Manifest;
  app: App;
  d: Deployment;
  image: string;
  network: string;
  /** Joined besides `network` (no aliases there): production's, for a preview sharing its services. */
  sharedNetworks: readonly string[];
  env: Record<string, string>;
  logs: LogWriter;
  timeoutMs: number;
  clock?: Clock;
  /** The operator's limits (BERTH_APP_*) for what a process's `resources` leaves unset. */
  defaultLimits?: AppLimits;
}

/** Starts the release's process containers (workers, schedulers) and waits for their health commands. */
export async function startProcesses(host: DockerHost, c: ProcessContext): Promise<void> {
  for (const [name, settings] of Object.entries(c.manifest.processes)) {
    const volumes = settings.volumes.map((m) => ({ name: volumeName(c.app.name, c.d.environment, m.volume), path: m.path, readOnly: m.readOnly }));
    const plans = planProcessContainers({
      app: c.app.name,
      environment: c.d.environment,
      sha: c.d.sha,
      deploymentId: c.d.id,
      image: c.image,
      network: c.network,
      name,
      settings,
      env: c.env,
      volumes,
      defaultLimits: c.defaultLimits,
    });
    for (const plan of plans) {
      const id = await host.createContainer(plan);
      for (const shared of c.sharedNetworks) await host.connect(shared, id);
      await host.startContainer(id);
      if (settings.healthcheck) await waitForCommand(host, id, settings.healthcheck.command, settings.healthcheck.timeoutMs ?? c.timeoutMs, `process ${name}`, c.clock);
      else await assertStaysUp(host, id, `process ${name}`, c.clock ?? systemClock);
    }
    c.logs.note(`started ${plans.length} × ${name}`);
  }
}

/** Without a health command, a process is healthy when it is still running a moment after start. */
async function assertStaysUp(host: DockerHost, id: string, what: string, clock: Clock): Promise<void> {
  await clock.sleep(500);
  const info = await host.inspectContainer(id);
  if (!info?.running) {
    throw new UserError(`${what} exited right after it started.`, lastLines(await host.logsTail(id, 50), 50) || "(no output)");
  }
}

/** Stops and removes process containers of an environment whose deployment label matches. */
export async function retireProcesses(host: DockerHost, app: string, environment: string, match: (deploymentId: string) => boolean): Promise<void> {
  const { containers } = await host.listManaged({ [LABEL.app]: app, [LABEL.environment]: environment, [LABEL.role]: "process" });
  for (const c of containers) {
    if (!match(c.labels[LABEL.deployment] ?? "")) continue;
    await host.stopContainer(c.id, 10);
    await host.removeContainer(c.id);
  }
}

