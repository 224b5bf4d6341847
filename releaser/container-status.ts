import type Docker from "dockerode";
import { DEFAULT_INSTANCE, LABEL } from "../core/names.js";
import { processOf } from "./container-logs.js";

/** One container of an app as the app page shows it. */
export interface ContainerStatus {
  id: string;
  name: string;
  environment: string;
  process: string;
  /** Docker's state: running, exited, restarting, … */
  state: string;
  /** healthy, unhealthy, starting, or none when the container has no health command. */
  health: string;
  /** Restarts by Docker's own restart policy. */
  restartCount: number;
  startedAt: Date | null;
}

/** Containers inspected at most per page: a page of many previews shows the first ones, not a stall. */
const MAX_INSPECTED = 60;
const IN_FLIGHT = 8;

/**
 * The containers of all an app's environments on one engine, this installation's only, each
 * inspected for its health and restart count (a few at a time, at most MAX_INSPECTED).
 */
export async function appContainerStatus(docker: Docker, instance: string, app: string): Promise<ContainerStatus[]> {
  const filters = JSON.stringify({ label: [`${LABEL.managed}=true`, `${LABEL.app}=${app}`] });
  const rows = (await docker.listContainers({ all: true, filters }))
    .filter((c) => (c.Labels[LABEL.instance] ?? DEFAULT_INSTANCE) === instance && c.Labels[LABEL.environment])
    .slice(0, MAX_INSPECTED);
  const out: ContainerStatus[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const c = rows[next++]!;
      const info = await docker.getContainer(c.Id).inspect().catch(() => undefined);
      out.push({
        id: c.Id,
        name: (c.Names[0] ?? "").replace(/^\//, ""),
        environment: c.Labels[LABEL.environment]!,
        process: processOf(c.Labels),
        state: info?.State.Status ?? c.State,
        health: info?.State.Health?.Status ?? "none",
        restartCount: info?.RestartCount ?? 0,
        startedAt: info?.State.Running ? new Date(info.State.StartedAt) : null,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, rows.length) }, worker));
  return out.sort((a, b) => a.environment.localeCompare(b.environment) || a.process.localeCompare(b.process) || a.name.localeCompare(b.name));
}

/** Autoheal's restarts per container name, from the `autoheal: restarted NAME: why` lines it writes to deployment logs. */
export function autohealRestarts(logChunks: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const chunk of logChunks) {
    for (const m of chunk.matchAll(/autoheal: restarted ([A-Za-z0-9_.-]{1,128}): /g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}
