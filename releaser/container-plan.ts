import type Docker from "dockerode";
import type { CommandHealthcheck, Resources } from "../manifest/manifest.js";
import type { AppLimits } from "../core/config.js";
import { LABEL } from "../core/names.js";

/** A named Docker volume mounted into a container. */
export interface VolumeSpec {
  /** Docker volume name, e.g. berth-shop-production-media. */
  name: string;
  path: string;
  readOnly: boolean;
}

/** A release of an app environment's web container. */
export interface ReleaseSpec {
  app: string;
  environment: string;
  sha: string;
  deploymentId: number;
  image: string;
  containerName: string;
  network: string;
  port: number;
  /** The release's BERTH_* variables (planBerthEnv), on top of env. */
  berthEnv: Readonly<Record<string, string>>;
  /** From berth.yaml: the command (else the image's CMD), env, limits and volumes. */
  command?: string[];
  env?: Readonly<Record<string, string>>;
  resources?: Resources;
  /** The operator's limits (BERTH_APP_*), for what `resources` leaves unset. */
  defaultLimits?: AppLimits;
  volumes?: readonly VolumeSpec[];
  healthcheck?: CommandHealthcheck;
}

/** Docker Engine create options for the web container: init, restart policy, labels, berth's env. */
export function planWebContainer(spec: ReleaseSpec): Docker.ContainerCreateOptions {
  const env: Record<string, string> = { ...spec.env, ...spec.berthEnv, PORT: String(spec.port) };
  return {
    name: spec.containerName,
    Image: spec.image,
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: { [`${spec.port}/tcp`]: {} },
    Labels: releaseLabels(spec, "web"),
    StopTimeout: 10,
    ...dockerHealthcheck(spec.healthcheck),
    HostConfig: appHostConfig(spec.network, spec.resources, spec.volumes, spec.defaultLimits),
    NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: ["web"] } } },
  };
}

/** Labels of a container that belongs to one release: the reconciler, teardown and process retirement find it by them. */
export function releaseLabels(
  spec: { app: string; environment: string; sha: string; deploymentId: number },
  role: "web" | "process",
): Record<string, string> {
  return {
    [LABEL.managed]: "true",
    [LABEL.app]: spec.app,
    [LABEL.environment]: spec.environment,
    [LABEL.sha]: spec.sha,
    [LABEL.deployment]: String(spec.deploymentId),
    [LABEL.role]: role,
  };
}

/**
 * What every long-running app container gets: an init, a restart policy, bounded logs, its network,
 * limits (berth.yaml's, else the operator's defaults) and volumes.
 */
export function appHostConfig(network: string, resources: Resources | undefined, volumes: readonly VolumeSpec[] | undefined, defaults?: AppLimits): Docker.HostConfig {
  return {
    Init: true,
    RestartPolicy: { Name: "unless-stopped" },
    NetworkMode: network,
    LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
    ...limits(resources, defaults),
    ...mounts(volumes),
  };
}

/** Docker's memory, CPU and process limits: a manifest's `resources`, each unset one from the operator's defaults. */
export function limits(r: Resources | undefined, defaults: AppLimits = {}): { Memory?: number; NanoCpus?: number; PidsLimit?: number } {
  const memory = r?.memoryBytes ?? defaults.memoryBytes;
  const cpus = r?.cpus ?? defaults.cpus;
  return {
    ...(memory ? { Memory: memory } : {}),
    ...(cpus ? { NanoCpus: Math.round(cpus * 1e9) } : {}),
    ...(defaults.pids ? { PidsLimit: defaults.pids } : {}),
  };
}

/**
 * A Docker HEALTHCHECK for a manifest health command, so the engine keeps checking after the release
 * went live and the reconciler can restart what turns unhealthy (autoheal).
 */
export function dockerHealthcheck(check: CommandHealthcheck | undefined): { Healthcheck?: Docker.HealthConfig } {
  if (!check) return {};
  const ns = (ms: number): number => ms * 1_000_000;
  return {
    Healthcheck: {
      Test: ["CMD", ...check.command],
      Interval: ns(check.intervalMs ?? 10_000),
      Timeout: ns(check.timeoutMs ?? 5_000),
      StartPeriod: ns(check.startPeriodMs ?? 0),
      Retries: 3,
    },
  };
}

/** Named-volume mounts. */
export function mounts(volumes: readonly VolumeSpec[] | undefined): { Mounts?: Docker.MountConfig } {
  if (!volumes?.length) return {};
  return { Mounts: volumes.map((v) => ({ Type: "volume" as const, Source: v.name, Target: v.path, ReadOnly: v.readOnly })) };
}

/** The port a web container listens on: the image's lowest exposed TCP port, else 8080 (passed as PORT). */
export function webPort(exposedPorts: Record<string, unknown> | undefined): number {
  const ports = Object.keys(exposedPorts ?? {})
    .filter((p) => !p.endsWith("/udp"))
    .map((p) => Number.parseInt(p, 10))
    .filter((p) => Number.isInteger(p) && p > 0)
    .sort((a, b) => a - b);
  return ports[0] ?? 8080;
}
