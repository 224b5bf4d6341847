/**
 * The normalized `berth.yaml`: every default applied, commands as argv, durations in milliseconds,
 * sizes in bytes. Planners take these types; only manifest/schema.ts builds them.
 */

/** How the image is built; undefined in {@link BuildSettings} means: Dockerfile if present, else buildpacks. */
export type BuildStrategy = "dockerfile" | "buildpacks";

/** Whether a preview gets its own services and volumes, or uses production's. */
export type PreviewServices = "fresh" | "shared";

/** The validated app manifest. */
export interface Manifest {
  /** DNS-safe app name; absent: the repository name made DNS-safe. */
  name?: string;
  build: BuildSettings;
  web: WebSettings;
  /** More process types from the same image, by DNS-label name. */
  processes: Record<string, ProcessSettings>;
  /** Runs once per release, before the switch; absent: no release command. */
  release?: string[];
  /** Public images on the app's private network; the key is the hostname. */
  services: Record<string, ServiceSettings>;
  /** Declared named volumes, in file order. */
  volumes: string[];
  /** For web, processes and release; values may hold `${secret.NAME}` and `${service.NAME.host}`. */
  env: Record<string, string>;
  /** Names of secrets whose values are set through the API. */
  secrets: string[];
  /** Path routes in file order; any path not listed goes to web. */
  routes: Route[];
  previews: PreviewSettings;
  /** `sleep_after` (production): stop it after this long without a request; null: never; absent: production never sleeps. */
  sleepAfterMs?: number | null;
  /** Where production may live (issue 13): a server by name, or servers carrying these labels. */
  placement?: Placement;
  /** Production's custom domains, routed once verified (previews ignore them). */
  domains?: DomainSetting[];
  /** `access` (production and its domains): absent or public: anyone; github: readers of the repository. */
  access?: EnvironmentAccess;
}

/** Who may open an environment: anyone, or GitHub users who can read the repository (and machine tokens). */
export type EnvironmentAccess = "public" | "github";

/** A custom domain; with redirectTo, requests to it are redirected to that domain of the same list. */
export interface DomainSetting {
  name: string;
  redirectTo?: string;
}

/** Constrains where an environment is placed; empty labels and no server: anywhere. */
export interface Placement {
  server?: string;
  labels: Record<string, string>;
}

/** `build:` — where and how the image is built. */
export interface BuildSettings {
  /** Repository-relative directory to build; `.` is the repository root. */
  context: string;
  /** Relative to the context; ignored by buildpacks. */
  dockerfile: string;
  /** The Dockerfile stage to build; absent: the last one. */
  target?: string;
  strategy?: BuildStrategy;
  /** Buildpacks builder image; ignored by Dockerfile builds, so one file can serve both while the strategy is detected. */
  builder?: string;
  args: Record<string, string>;
  /** App secrets mounted into RUN steps with BuildKit (`RUN --mount=type=secret,id=NAME`), never stored in the image. */
  secrets: string[];
  /** Limits of the build's RUN steps; absent fields: BERTH_BUILD_MEMORY / BERTH_BUILD_CPUS. */
  resources: Resources;
  /** Repository-relative globs; empty: every push to the default branch builds. */
  watch: string[];
  timeoutMs?: number;
}

/** `resources:` — container limits; absent fields mean no limit. */
export interface Resources {
  memoryBytes?: number;
  cpus?: number;
}

/** A named volume mounted into a container (`name:/path[:ro]`). */
export interface VolumeMount {
  volume: string;
  path: string;
  readOnly: boolean;
}

/** A repository file mounted into a service container. */
export interface FileMount {
  /** Absolute path in the container. */
  path: string;
  /** Repository-relative path, normalized, never leaving the repository. */
  source: string;
}

/** Timing shared by both kinds of health check; absent fields take berth's defaults. */
export interface HealthcheckTiming {
  intervalMs?: number;
  timeoutMs?: number;
  startPeriodMs?: number;
}

/** Healthy when the path answers 2xx or 3xx on the web port. */
export interface HttpHealthcheck extends HealthcheckTiming {
  kind: "http";
  path: string;
}

/** Healthy when the command exits 0 inside the container. */
export interface CommandHealthcheck extends HealthcheckTiming {
  kind: "command";
  command: string[];
}

export type Healthcheck = HttpHealthcheck | CommandHealthcheck;

/** `web:` — the main container, the one the app's hostname routes to. */
export interface WebSettings {
  /** Absent: the image's EXPOSE. */
  port?: number;
  /** Absent: the image's CMD. */
  command?: string[];
  /** Absent: any status below 500 on `/`. */
  healthcheck?: Healthcheck;
  resources: Resources;
  volumes: VolumeMount[];
}

/** `processes.<name>:` — another process type run from the app's image. */
export interface ProcessSettings {
  command: string[];
  /** 0 keeps the process declared but stopped. */
  replicas: number;
  healthcheck?: CommandHealthcheck;
  resources: Resources;
  volumes: VolumeMount[];
}

/** `services.<name>:` — a public image on the app's private network. */
export interface ServiceSettings {
  image: string;
  command?: string[];
  env: Record<string, string>;
  volumes: VolumeMount[];
  files: FileMount[];
  healthcheck?: CommandHealthcheck;
  resources: Resources;
}

/** `routes[]:` — requests whose path matches go to `target` (web, a process or a service) on `port`. */
export interface Route {
  path: string;
  target: string;
  port: number;
}

/** `previews:` — how pull-request environments differ from production. */
export interface PreviewSettings {
  /** Applied on top of the app's env. */
  env: Record<string, string>;
  services: PreviewServices;
  /** previews.expire_after; absent: the operator's BERTH_PREVIEW_TTL decides. */
  expireAfterMs?: number;
  /** Where previews may live; absent: placed independently of production, by capacity. */
  placement?: Placement;
  /** previews.sleep_after; null: never; absent: the operator's BERTH_PREVIEW_SLEEP_AFTER decides. */
  sleepAfterMs?: number | null;
  /** previews.access; absent: github for a private repository, public otherwise. */
  access?: EnvironmentAccess;
}
