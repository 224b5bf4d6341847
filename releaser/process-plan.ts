import type Docker from "dockerode";
import type { AppLimits } from "../core/config.js";
import type { ProcessSettings } from "../manifest/manifest.js";
import { appHostConfig, dockerHealthcheck, releaseLabels, type VolumeSpec } from "./container-plan.js";

export interface ProcessSpec {
  app: string;
  environment: string;
  sha: string;
  deploymentId: number;
  image: string;
  network: string;
  name: string;
  settings: ProcessSettings;
  env: Readonly<Record<string, string>>;
  volumes: readonly VolumeSpec[];
  /** The operator's limits (BERTH_APP_*), for what the process's `resources` leaves unset. */
  defaultLimits?: AppLimits;
}

/** Docker name of one replica of a process type in a release. */
export function processContainerName(app: string, environment: string, name: string, sha: string, deploymentId: number, replica: number): string {
  return `berth-${app}-${environment}-${name}-${sha.slice(0, 7)}-${deploymentId}-${replica}`;
}

/**
 * The containers of one process type for a release: `replicas` of them, from the app's image with the
 * process's command, on the app network under the process name (so routes and other containers can
 * reach it), labelled with the deployment so the next release can retire them.
 */
export function planProcessContainers(spec: ProcessSpec): Docker.ContainerCreateOptions[] {
  return Array.from({ length: spec.settings.replicas }, (_, i) => ({
    name: processContainerName(spec.app, spec.environment, spec.name, spec.sha, spec.deploymentId, i + 1),
    Image: spec.image,
    Cmd: [...spec.settings.command],
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...releaseLabels(spec, "process"), "berth.process": spec.name },
    StopTimeout: 10,
    ...dockerHealthcheck(spec.settings.healthcheck),
    HostConfig: appHostConfig(spec.network, spec.settings.resources, spec.volumes, spec.defaultLimits),
    NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: [spec.name] } } },
  }));
}
