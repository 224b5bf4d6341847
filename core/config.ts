import { isIP } from "node:net";
import { join } from "node:path";
import { ConfigError } from "./errors.js";
import { DEFAULT_INSTANCE } from "./names.js";
import type { Resources } from "../manifest/types.js";
import { parseDuration, parseMemory } from "../manifest/units.js";
import { decodeSecretKey } from "./secret-box.js";
import { Sensitive } from "./sensitive.js";
import { APP_FILE, readAppFile, readGitHub, readOAuth, type GitHubAppConfig, type OAuthClient } from "./github-app-config.js";

export { APP_FILE, type GitHubAppConfig };

export type Role = "server" | "builder" | "releaser";
export const ALL_ROLES: readonly Role[] = ["server", "builder", "releaser"];

/** GitHub App credentials; absent until the App is registered (the server then offers the manifest flow). */
/** Limits of app containers where berth.yaml sets none: memory and CPUs as in `resources`, and processes. */
export interface AppLimits extends Resources {
  /** Processes and threads one container may run at once (Docker's PidsLimit). */
  pids?: number;
}

/** berth's whole configuration, read once from the environment and validated. */
export interface Config {
  github: GitHubAppConfig | undefined;
  githubApiUrl: string;
  githubWebUrl: string;
  port: number;
  host: string;
  databaseUrl: Sensitive;
  redisUrl: Sensitive;
  domain: string;
  ingressHttpPort: number;
  ingressHttpsPort: number;
  tls: boolean;
  /** BERTH_TLS=internal: HTTPS with certificates from the proxy's own CA (private networks, tests). */
  tlsInternal: boolean;
  dockerHost: string;
  proxyImage: string;
  /** Where berth keeps its own files: the App credentials /setup registered (github-app.env), the webhook journal. */
  dataDir: string;
  /** Bodies of answered webhooks not yet in Postgres that berth holds at most (BERTH_WEBHOOK_BACKLOG_MB). */
  webhookBacklogBytes: number;
  /**
   * This installation's name on its Docker engines: the prefix of its fixed-name resources (the proxy)
   * and a label on everything it creates, so installations sharing an engine never touch each other's.
   */
  instance: string;
  secretKey: Sensitive | undefined;
  publicUrl: string;
  apiToken: Sensitive | undefined;
  /** The App's OAuth client (GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET): "Log in with GitHub"; undefined: only the admin token signs in. */
  oauth: OAuthClient | undefined;
  /** How long a dashboard session lasts (BERTH_SESSION_TTL). */
  sessionTtlMs: number;
  reconcileIntervalSeconds: number;
  roles: readonly Role[];
  logLevel: string;
  /** How long a new container may take to answer HTTP before the release fails. */
  healthTimeoutMs: number;
  /** How long the old container keeps running after the route switched, for in-flight requests. */
  drainMs: number;
  buildConcurrency: number;
  /** Builds of one app at once (its apps row may override); more wait in push order. */
  appBuildConcurrency: number;
  /** How often a running build's check run is updated with its step and log tail. */
  progressIntervalMs: number;
  /** Limits of a build's RUN steps unless berth.yaml's build.resources sets them. */
  buildResources: Resources;
  /** Limits of web, process, service and release containers unless berth.yaml's resources set them. */
  appLimits: AppLimits;
  /** A preview with no push for this long is torn down. */
  previewTtlMs: number;
  /** A preview with no request for this long sleeps (BERTH_PREVIEW_SLEEP_AFTER); null: never, unless its berth.yaml says. */
  previewSleepAfterMs: number | null;
  /** Default build time limit; berth.yaml's build.timeout overrides it per app. */
  buildTimeoutMs: number;
  /** Images of this many recent releases per environment survive pruning. */
  keepImages: number;
  /** Buildpacks builder image for apps without a Dockerfile. */
  packBuilder: string;
  /**
   * Registry (`host[:port][/path]`) that carries images from the builder's engine to other servers;
   * undefined: they stream engine to engine through berth.
   */
  registry: string | undefined;
  /**
   * The registered server whose engine this process builds on (BERTH_BUILDER_SERVER), as releases
   * find images: "default" for the built-in server; a builder on another host names its own engine.
   */
  builderServer: string;
  /** BERTH_DNS_SERVER (host:port) for custom domains' lookups (undefined: the system's), and BERTH_INGRESS_ADDRESSES their A/AAAA records may point at. */
  dnsServer: string | undefined;
  ingressAddresses: string[];
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment; every problem found is reported at once, naming its variable. */
export function loadConfig(given: Env = process.env): Config {
  const problems: string[] = [];
  const dataDir = given.BERTH_DATA_DIR || process.cwd();
  // What /setup registered is kept in the data directory and used unless the environment names an App.
  const env = { ...readAppFile(join(dataDir, APP_FILE), given), ...given };
  const int = (name: string, fallback: number, min = 0, max = 65535): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${raw}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const url = (name: string, fallback: string, protocols: string[]): string => {
    const raw = env[name] || fallback;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) throw new Error("protocol");
    } catch {
      problems.push(`${name}=${redactUrl(raw)}: expected a URL starting with ${protocols.map((p) => p + "//").join(" or ")}`);
    }
    return raw;
  };

  // `max` keeps durations that become timers under Node's ceiling of 24.8 days (a longer one fires at once).
  const duration = (name: string, fallback: string, max: string): number => {
    const raw = env[name] || fallback;
    const ms = parseDuration(raw);
    if (ms === undefined || ms > (parseDuration(max) ?? 0)) {
      problems.push(`${name}=${raw}: expected a duration such as 90s, 30m, 12h or 7d, at most ${max}`);
      return parseDuration(fallback) ?? 0;
    }
    return ms;
  };

  const size = (name: string): number | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    const bytes = parseMemory(raw);
    if (bytes === undefined || bytes < 6 * 1024 ** 2) problems.push(`${name}=${raw}: expected a size of at least 6m, such as 512m or 2g`);
    return bytes;
  };
  const cpus = (name: string): number | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0.01 || n > 1024) problems.push(`${name}=${raw}: expected a number of CPUs such as 1 or 0.5`);
    return n;
  };

  const port = int("PORT", 3000, 1);
  const domain = (env.BERTH_DOMAIN || "localhost").toLowerCase();
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain)) {
    problems.push(`BERTH_DOMAIN=${domain}: expected a DNS name such as apps.example.com`);
  }
  const tlsRaw = env.BERTH_TLS || (domain === "localhost" || domain.endsWith(".localhost") ? "off" : "on");
  if (tlsRaw !== "on" && tlsRaw !== "off" && tlsRaw !== "internal") problems.push(`BERTH_TLS=${tlsRaw}: expected on, internal or off`);

  const instance = env.BERTH_INSTANCE || DEFAULT_INSTANCE;
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(instance)) problems.push(`BERTH_INSTANCE=${instance}: expected a lower-case name of at most 31 letters, digits and hyphens, starting with a letter`);
  const dockerHost = env.BERTH_DOCKER_HOST || env.DOCKER_HOST || "unix:///var/run/docker.sock";
  if (!/^(unix|tcp|ssh|http|https):\/\//.test(dockerHost)) {
    problems.push(`BERTH_DOCKER_HOST=${dockerHost}: expected unix:///path, tcp://host:port or ssh://user@host`);
  }

  const registry = env.BERTH_REGISTRY?.replace(/\/+$/, "") || undefined;
  if (registry && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/i.test(registry)) {
    problems.push(`BERTH_REGISTRY=${registry}: expected a registry host, port and path without a scheme, e.g. registry.example.com:5000/berth`);
  }

  const builderServer = env.BERTH_BUILDER_SERVER || "local";
  if (!/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(builderServer)) problems.push(`BERTH_BUILDER_SERVER=${builderServer}: expected a server name as \`berth servers list\` shows it`);
  const dnsServer = env.BERTH_DNS_SERVER || undefined;
  if (dnsServer && !/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\])(:\d{1,5})?$/i.test(dnsServer)) problems.push(`BERTH_DNS_SERVER=${dnsServer}: expected an IP address and optional port, such as 127.0.0.1:5353`);
  const ingressAddresses = (env.BERTH_INGRESS_ADDRESSES ?? "").split(",").map((a) => a.trim()).filter(Boolean);
  for (const a of ingressAddresses) if (isIP(a) === 0) problems.push(`BERTH_INGRESS_ADDRESSES: ${a} is not an IP address`);
  const github = readGitHub(env, problems);
  const gheHost = env.GHE_HOST;
  const gheProtocol = env.GHE_PROTOCOL || "https";
  if (gheHost && gheProtocol !== "http" && gheProtocol !== "https") {
    problems.push(`GHE_PROTOCOL=${gheProtocol}: expected http or https`);
  }

  const production = env.NODE_ENV === "production";
  let secretKey: Sensitive | undefined;
  if (env.BERTH_SECRET_KEY) {
    const key = decodeSecretKey(env.BERTH_SECRET_KEY);
    if (!key) problems.push("BERTH_SECRET_KEY: expected 32 bytes as 64 hex characters or base64 (openssl rand -hex 32)");
    else secretKey = new Sensitive(env.BERTH_SECRET_KEY);
  } else if (production && github) {
    // Without an App berth only offers /setup, which keeps no secrets: do not lock the operator out of it.
    problems.push("BERTH_SECRET_KEY: required when NODE_ENV=production; create one with `openssl rand -hex 32`");
  }

  const roles = (env.BERTH_ROLES || ALL_ROLES.join(",")).split(",").map((r) => r.trim()).filter(Boolean);
  for (const r of roles) {
    if (!ALL_ROLES.includes(r as Role)) problems.push(`BERTH_ROLES: unknown role "${r}"; expected a list of ${ALL_ROLES.join(", ")}`);
  }

  const config: Config = {
    github,
    githubApiUrl: gheHost ? `${gheProtocol}://${gheHost}/api/v3` : "https://api.github.com",
    githubWebUrl: gheHost ? `${gheProtocol}://${gheHost}` : "https://github.com",
    port,
    host: env.HOST || "0.0.0.0",
    databaseUrl: new Sensitive(url("DATABASE_URL", "postgres://berth:berth@127.0.0.1:5432/berth", ["postgres:", "postgresql:"])),
    redisUrl: new Sensitive(url("REDIS_URL", "redis://127.0.0.1:6379", ["redis:", "rediss:"])),
    domain,
    ingressHttpPort: int("BERTH_INGRESS_HTTP_PORT", 80, 1),
    ingressHttpsPort: int("BERTH_INGRESS_HTTPS_PORT", 443, 1),
    tls: tlsRaw !== "off",
    tlsInternal: tlsRaw === "internal",
    dockerHost,
    proxyImage: env.BERTH_PROXY_IMAGE || "caddy:2-alpine",
    instance,
    dataDir,
    secretKey,
    publicUrl: (env.BERTH_PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ""),
    apiToken: env.BERTH_API_TOKEN ? new Sensitive(env.BERTH_API_TOKEN) : undefined,
    oauth: readOAuth(env, problems),
    sessionTtlMs: duration("BERTH_SESSION_TTL", "8h", "30d"),
    reconcileIntervalSeconds: int("BERTH_RECONCILE_INTERVAL", 60, 1, 86400),
    roles: roles as Role[],
    logLevel: env.LOG_LEVEL || "info",
    healthTimeoutMs: int("BERTH_HEALTH_TIMEOUT", 60, 1, 3600) * 1000,
    drainMs: int("BERTH_DRAIN_SECONDS", 2, 0, 600) * 1000,
    buildConcurrency: int("BERTH_BUILD_CONCURRENCY", 2, 1, 64),
    appBuildConcurrency: int("BERTH_APP_BUILD_CONCURRENCY", 1, 1, 64),
    progressIntervalMs: duration("BERTH_BUILD_PROGRESS_INTERVAL", "10s", "1h"),
    buildResources: resourcesOf(size("BERTH_BUILD_MEMORY"), cpus("BERTH_BUILD_CPUS")),
    appLimits: appLimitsOf(size("BERTH_APP_MEMORY"), cpus("BERTH_APP_CPUS"), int("BERTH_APP_PIDS", DEFAULT_APP_PIDS, 0, 4_194_304)),
    previewTtlMs: duration("BERTH_PREVIEW_TTL", "7d", "365d"),
    previewSleepAfterMs: previewSleepAfter(env, duration, problems),
    buildTimeoutMs: duration("BERTH_BUILD_TIMEOUT", "30m", "7d"),
    keepImages: int("BERTH_KEEP_IMAGES", 5, 1, 1000),
    // GitHub sends at most 25 MB in one delivery: the default holds one of those with room.
    webhookBacklogBytes: int("BERTH_WEBHOOK_BACKLOG_MB", 32, 1, 4096) * 1024 * 1024,
    packBuilder: env.BERTH_PACK_BUILDER || "paketobuildpacks/builder-jammy-base",
    registry,
    builderServer: builderServer === "local" ? "default" : builderServer,
    dnsServer,
    ingressAddresses,
  };
  url("BERTH_PUBLIC_URL", config.publicUrl, ["http:", "https:"]);
  if (problems.length > 0) {
    throw new ConfigError(`berth cannot start; fix these environment variables:\n  - ${problems.join("\n  - ")}`);
  }
  return config;
}

/** BERTH_PREVIEW_SLEEP_AFTER: `never` (null), or a duration from 10s (as berth.yaml's sleep_after) to 30d. */
function previewSleepAfter(env: Env, duration: (name: string, fallback: string, max: string) => number, problems: string[]): number | null {
  const raw = env.BERTH_PREVIEW_SLEEP_AFTER;
  if (raw === "never") return null;
  const ms = duration("BERTH_PREVIEW_SLEEP_AFTER", "30m", "30d");
  if (ms < 10_000) problems.push(`BERTH_PREVIEW_SLEEP_AFTER=${raw}: expected at least 10s, or never`);
  return ms;
}

/*
 * Processes are limited by default and memory and CPUs are not: a fork bomb in one container exhausts
 * the whole server's process table, and no web app, worker or database needs 1024 processes and
 * threads at once; but a good memory or CPU limit depends on the server and the app (a JVM or a
 * database killed for memory on upgrade is worse than no limit), so those are the operator's choice.
 */
const DEFAULT_APP_PIDS = 1024;

function appLimitsOf(memoryBytes: number | undefined, cpus: number | undefined, pids: number): AppLimits {
  // BERTH_APP_PIDS=0 turns the limit off.
  return { ...resourcesOf(memoryBytes, cpus), ...(pids > 0 ? { pids } : {}) };
}

function resourcesOf(memoryBytes: number | undefined, cpus: number | undefined): Resources {
  return { ...(memoryBytes ? { memoryBytes } : {}), ...(cpus ? { cpus } : {}) };
}

function redactUrl(raw: string): string {
  return raw.replace(/\/\/[^@/]*@/, "//***@");
}
