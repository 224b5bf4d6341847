import { createHash } from "node:crypto";
import type Docker from "dockerode";
import type { AppLimits } from "../core/config.js";
import type { CommandHealthcheck, Resources } from "../manifest/manifest.js";
import { LABEL } from "../core/names.js";
import { appHostConfig, dockerHealthcheck, type VolumeSpec } from "./container-plan.js";

export const SPEC_LABEL = "berth.spec";

export interface ServiceSpec {
  app: string;
  environment: string;
  name: string;
  network: string;
  image: string;
  command?: string[];
  env: Readonly<Record<string, string>>;
  resources: Resources;
  /** The operator's limits (BERTH_APP_*), for what `resources` leaves unset; part of the spec hash, so a change recreates the service. */
  defaultLimits?: AppLimits;
  volumes: readonly VolumeSpec[];
  /** Files written into the container before it starts, by container path; part of the spec hash. */
  files?: Readonly<Record<string, string>>;
  healthcheck?: CommandHealthcheck;
}

/** Docker name of a service container: one per app environment and service, replaced only when its spec changes. */
export function serviceContainerName(app: string, environment: string, service: string): string {
  return `berth-${app}-${environment}-${service}`;
}

/** Docker name of a manifest volume in one environment: production's survive releases, a preview's die with it. */
export function volumeName(app: string, environment: string, volume: string): string {
  return `berth-${app}-${environment}-${volume}`;
}

/**
 * A service container, reachable on the app network by its manifest key. The spec hash label lets
 * the releaser leave a running service alone when nothing about it changed.
 */
export function planServiceContainer(spec: ServiceSpec): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: serviceContainerName(spec.app, spec.environment, spec.name),
    Image: spec.image,
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABEL.managed]: "true",
      [LABEL.app]: spec.app,
      [LABEL.environment]: spec.environment,
      [LABEL.role]: "service",
      "berth.service": spec.name,
    },
    ...dockerHealthcheck(spec.healthcheck),
    HostConfig: appHostConfig(spec.network, spec.resources, spec.volumes, spec.defaultLimits),
    NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: [spec.name] } } },
  };
  const hash = createHash("sha256").update(JSON.stringify([options, spec.files ?? {}])).digest("hex").slice(0, 16);
  return { ...options, Labels: { ...options.Labels, [SPEC_LABEL]: hash } };
}
