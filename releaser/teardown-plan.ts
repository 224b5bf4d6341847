import { LABEL } from "../core/names.js";
import type { ManagedResources } from "./docker-host.js";

/** What to remove for one environment, in the order it must go. */
export interface TeardownPlan {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
}

/**
 * Plans an environment's teardown from what runs on the droid server (already filtered by its labels)
 * and the images berth built for it: containers first, then the networks they held, then volumes
 * and images. Never touches the proxy, whatever its labels say.
 */
export function planTeardown(resources: ManagedResources, images: readonly string[]): TeardownPlan {
  return {
    containers: resources.containers.filter((c) => c.labels[LABEL.role] !== "proxy").map((c) => c.name).sort(),
    networks: resources.networks.map((n) => n.name).sort(),
    volumes: resources.volumes.map((v) => v.name).sort(),
    images: [...new Set(images)].sort(),
  };
}

/**
 * Preview environments that have resources on the droid server but are not open in berth's state:
 * the strays a missed `closed` event or a crash mid-teardown leaves behind.
 */
export function findStrays(resources: ManagedResources, isOpen: (app: string, environment: string) => boolean): { app: string; environment: string }[] {
  const seen = new Map<string, { app: string; environment: string }>();
  const all = [...resources.containers, ...resources.networks, ...resources.volumes];
  for (const r of all) {
    const app = r.labels[LABEL.app];
    const environment = r.labels[LABEL.environment];
    if (!app || !environment || !/^pr-\d+$/.test(environment)) continue;
    if (!isOpen(app, environment)) seen.set(`${app}/${environment}`, { app, environment });
  }
  return [...seen.values()].sort((a, b) => `${a.app}/${a.environment}`.localeCompare(`${b.app}/${b.environment}`));
}
