import type { PathRoute } from "../store/db.js";
import type { Manifest } from "../manifest/manifest.js";
import { processContainerName } from "./process-plan.js";
import { serviceContainerName } from "./service-plan.js";

export interface RouteContext {
  app: string;
  environment: string;
  sha: string;
  deploymentId: number;
  webContainer: string;
  /** The environment whose services serve this one: production's for a preview with previews.services: shared. */
  servicesEnvironment?: string;
}

/**
 * The manifest's path routes as upstreams the proxy can dial: web's container, a service's container,
 * or every replica of a process of this release. Order is kept: the first matching path wins.
 */
export function planPathRoutes(manifest: Manifest, c: RouteContext): PathRoute[] {
  return manifest.routes.map((r) => {
    if (r.target === "web") return { path: r.path, upstreams: [`${c.webContainer}:${r.port}`] };
    if (manifest.services[r.target]) return { path: r.path, upstreams: [`${serviceContainerName(c.app, c.servicesEnvironment ?? c.environment, r.target)}:${r.port}`] };
    const replicas = manifest.processes[r.target]?.replicas ?? 0;
    const upstreams = Array.from({ length: replicas }, (_, i) => `${processContainerName(c.app, c.environment, r.target, c.sha, c.deploymentId, i + 1)}:${r.port}`);
    return { path: r.path, upstreams };
  }).filter((r) => r.upstreams.length > 0);
}
