import { placement } from "./placement.js";
import { domains } from "./domains.js";
import { defaultWeb, processes, resources, services, web } from "./containers.js";
import type { ManifestIssue } from "./manifest-error.js";
import { MAX_COUNT, MAX_LENGTH, MAX_VALUE } from "./limits.js";
import {
  type Declared,
  ManifestContext,
  type Read,
  atMostChars,
  atMostEntries,
  command,
  describe,
  duration,
  fields,
  isMapping,
  oneOf,
  requireKey,
  text,
  withoutUndefined,
} from "./reader.js";
import type { BuildSettings, Manifest, PreviewSettings, Route } from "./types.js";
import { relativePath, routePath, stringMap } from "./values.js";
import type { LineTree } from "./yaml.js";
import { reservedNamePart } from "../core/names.js";
import { parseDuration } from "./units.js";

/*
 * The one schema of berth.yaml, from the top: each SHAPE lists every key a mapping may have with its
 * reader, and anything else is rejected by name. The containers' part is in manifest-containers.ts.
 */

// The app name becomes a hostname label with `-pr-<N>` appended, hence 40 rather than 63.
const APP_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const PREVIEW_SUFFIX = /-pr-\d+$/;
const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;
// Docker's own rule for volume names.
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const appName: Read<string> = (ctx, path, raw) => {
  if (typeof raw !== "string" || !APP_NAME.test(raw)) {
    return ctx.fail(path, `expected a DNS-safe name: lower-case letters, digits and "-", at most 40, not first or last; got ${describe(raw)}`);
  }
  // shop-pr-3.<domain> is the hostname of shop's preview of pull request 3: no app may own it.
  if (PREVIEW_SUFFIX.test(raw)) return ctx.fail(path, `"${raw}" ends like a preview's hostname (<app>-pr-<N>); choose a name that does not end in -pr-<number>`);
  // Docker names are berth-<app>-<environment>-…: a part that reads like an environment could take another app's.
  const reserved = reservedNamePart(raw);
  if (reserved) return ctx.fail(path, `"${raw}" has the part "${reserved}", which reads like an environment (production or pr-<number>); choose a name without it`);
  return raw;
};

const watchGlob: Read<string> = (ctx, path, raw) => {
  if (typeof raw !== "string" || raw.trim() === "") return ctx.fail(path, `expected a path or glob in the repository, such as "libs/**"; got ${describe(raw)}`);
  if (raw.startsWith("/")) return ctx.fail(path, `expected a glob relative to the repository root (GitHub lists changed files that way); got ${describe(raw)}`);
  if (raw.split("/").includes("..")) return ctx.fail(path, `${describe(raw)} leaves the repository`);
  if (!atMostChars(ctx, path, raw, MAX_LENGTH.watchGlob)) return undefined;
  return raw.replace(/^(\.\/)+/, "");
};

const watchGlobs: Read<string[]> = (ctx, path, raw) => {
  if (!Array.isArray(raw)) return ctx.fail(path, `expected a list of globs, such as ["services/shop/**", "libs/**"]; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.watchGlobs, "globs")) return undefined;
  return raw.flatMap((item, i) => watchGlob(ctx, [...path, i], item) ?? []);
};

// Docker's rule for a stage name in `FROM image AS name`.
const STAGE_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]*$/;

const stageName: Read<string> = (ctx, path, raw) => {
  if (typeof raw !== "string" || !STAGE_NAME.test(raw)) return ctx.fail(path, `expected the name of a stage of the Dockerfile (FROM image AS name); got ${describe(raw)}`);
  return atMostChars(ctx, path, raw, MAX_LENGTH.name) ? raw : undefined;
};

/** Build secrets must be declared app secrets too: that is how berth knows to ask for their values. */
const buildSecrets: Read<string[]> = (ctx, path, raw) => {
  const names = secretNames(ctx, path, raw);
  return names?.filter((name, i) => ctx.declared.secrets.has(name) || !ctx.fail([...path, i], `"${name}" is not listed in secrets: add it there too, then set its value with berth secrets set`));
};

const BUILD_SHAPE = {
  context: relativePath("the repository", "services/shop"),
  dockerfile: relativePath("the build context", "Dockerfile"),
  target: stageName,
  strategy: oneOf(["dockerfile", "buildpacks"] as const),
  builder: text(MAX_LENGTH.image),
  args: stringMap("args"),
  secrets: buildSecrets,
  resources,
  watch: watchGlobs,
  timeout: duration(1, MAX_VALUE.buildTimeout),
};

/** build when the file has no `build:`. */
function defaultBuild(): BuildSettings {
  return { context: ".", dockerfile: "Dockerfile", args: {}, secrets: [], resources: {}, watch: [] };
}

const build: Read<BuildSettings> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, BUILD_SHAPE);
  if (!f) return undefined;
  const d = defaultBuild();
  return withoutUndefined<BuildSettings>({
    context: f.context ?? d.context,
    dockerfile: f.dockerfile ?? d.dockerfile,
    target: f.target,
    strategy: f.strategy,
    builder: f.builder,
    args: f.args ?? d.args,
    secrets: f.secrets ?? d.secrets,
    resources: f.resources ?? d.resources,
    watch: f.watch ?? d.watch,
    timeoutMs: f.timeout,
  });
};

const volumeDeclarations: Read<string[]> = (ctx, path, raw) => {
  if (!isMapping(raw)) return ctx.fail(path, `expected a mapping of volume names, such as { pgdata: {} }; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.volumes, "volumes")) return undefined;
  const names: string[] = [];
  for (const [name, settings] of Object.entries(raw)) {
    const at = [...path, name];
    if (!VOLUME_NAME.test(name)) {
      ctx.fail(at, `"${name}" cannot be a volume name: use letters, digits, "_", "." and "-", starting with a letter or digit`);
      continue;
    }
    if (!atMostChars(ctx, at, name, MAX_LENGTH.volumeName)) continue;
    if (isMapping(settings)) {
      for (const key of Object.keys(settings)) ctx.fail([...at, key], `unknown key "${key}"; volumes take no settings yet (write ${name}: {})`);
    } else if (settings !== null) {
      ctx.fail(at, `expected {} (volumes take no settings yet); got ${describe(settings)}`);
    }
    names.push(name);
  }
  return names;
};

const secretNames: Read<string[]> = (ctx, path, raw) => {
  if (!Array.isArray(raw)) return ctx.fail(path, `expected a list of names, such as [DB_PASSWORD]; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.secrets, "secrets")) return undefined;
  const names: string[] = [];
  raw.forEach((name, i) => {
    if (typeof name !== "string" || !SECRET_NAME.test(name)) {
      ctx.fail([...path, i], `expected a secret name of A-Z, 0-9 and "_", not starting with a digit, such as DB_PASSWORD; got ${describe(name)}`);
    } else if (names.includes(name)) {
      ctx.fail([...path, i], `"${name}" is listed twice`);
    } else if (atMostChars(ctx, [...path, i], name, MAX_LENGTH.name)) {
      names.push(name);
    }
  });
  return names;
};

/** `name:port`, where name is web, a process or a service. */
const routeTarget: Read<{ target: string; port: number }> = (ctx, path, raw) => {
  const m = typeof raw === "string" ? /^([^:\s]+):(\d+)$/.exec(raw) : null;
  const target = m?.[1];
  const port = Number(m?.[2]);
  if (!target) return ctx.fail(path, `expected "name:port", such as "web:8080"; got ${describe(raw)}`);
  const { processes: declaredProcesses, services: declaredServices } = ctx.declared;
  if (target !== "web" && !declaredProcesses.has(target) && !declaredServices.has(target)) {
    const known = ["web", ...declaredProcesses, ...declaredServices].join(", ");
    return ctx.fail(path, `"${target}" is not web, a process or a service (declared: ${known})`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return ctx.fail(path, `expected a port from 1 to 65535 after "${target}:"; got ${m?.[2]}`);
  return { target, port };
};

const ROUTE_SHAPE = { path: routePath, to: routeTarget };

const routes: Read<Route[]> = (ctx, path, raw) => {
  if (!Array.isArray(raw)) return ctx.fail(path, `expected a list such as [{ path: /static/*, to: "nginx:80" }]; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.routes, "routes")) return undefined;
  const out: Route[] = [];
  raw.forEach((item, i) => {
    const at = [...path, i];
    const f = fields(ctx, at, item, ROUTE_SHAPE);
    if (!f) return;
    requireKey(ctx, at, item, "path", "the request path to route, such as /static/*");
    requireKey(ctx, at, item, "to", 'where the requests go, such as "nginx:80"');
    if (f.path === undefined || f.to === undefined) return;
    if (out.some((r) => r.path === f.path)) ctx.fail([...at, "path"], `"${f.path}" is already routed by an earlier entry`);
    else out.push({ path: f.path, ...f.to });
  });
  return out;
};

/** How long an environment may go without a request before it sleeps; `never` (null) keeps it awake. */
const sleepAfter: Read<number | null> = (ctx, path, raw) => {
  if (raw === "never") return null;
  const ms = duration(1, MAX_VALUE.maxSleepAfter)(ctx, path, raw);
  if (ms === undefined) return undefined;
  if (ms < (parseDuration(MAX_VALUE.minSleepAfter) ?? 0)) return ctx.fail(path, `expected a duration of at least ${MAX_VALUE.minSleepAfter}, or never; got ${describe(raw)}`);
  return ms;
};

/** Who may open an environment's hostname: anyone, or GitHub users with read access to the repository. */
const access = oneOf(["public", "github"] as const);

const PREVIEWS_SHAPE = { env: stringMap("env"), services: oneOf(["fresh", "shared"] as const), expire_after: duration(1, MAX_VALUE.expireAfter), sleep_after: sleepAfter, placement, access };

/** previews when the file has no `previews:`. */
function defaultPreviews(): PreviewSettings {
  return { env: {}, services: "fresh" };
}

const previews: Read<PreviewSettings> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, PREVIEWS_SHAPE);
  if (!f) return undefined;
  const d = defaultPreviews();
  return {
    env: f.env ?? d.env,
    services: f.services ?? d.services,
    ...(f.expire_after !== undefined ? { expireAfterMs: f.expire_after } : {}),
    ...(f.placement !== undefined ? { placement: f.placement } : {}),
    ...(f.sleep_after !== undefined ? { sleepAfterMs: f.sleep_after } : {}),
    ...(f.access !== undefined ? { access: f.access } : {}),
  };
};

/** Every top-level key of berth.yaml. */
const MANIFEST_SHAPE = {
  name: appName,
  build,
  web,
  processes,
  release: command,
  services,
  volumes: volumeDeclarations,
  env: stringMap("env"),
  secrets: secretNames,
  routes,
  previews,
  sleep_after: sleepAfter,
  placement,
  domains,
  access,
};

/** Validates parsed berth.yaml and applies its defaults; the manifest is complete only when there are no issues. */
export function readManifest(raw: unknown, lines: LineTree): { manifest: Manifest | undefined; issues: ManifestIssue[] } {
  // An empty file (or one of comments only) is the all-defaults manifest.
  const value = raw ?? {};
  const ctx = new ManifestContext(lines, declaredNames(value));
  const f = fields(ctx, [], value, MANIFEST_SHAPE);
  const manifest =
    f &&
    withoutUndefined<Manifest>({
      name: f.name,
      build: f.build ?? defaultBuild(),
      web: f.web ?? defaultWeb(),
      processes: f.processes ?? {},
      release: f.release,
      services: f.services ?? {},
      volumes: f.volumes ?? [],
      env: f.env ?? {},
      secrets: f.secrets ?? [],
      routes: f.routes ?? [],
      previews: f.previews ?? defaultPreviews(),
      placement: f.placement,
      domains: f.domains,
      sleepAfterMs: f.sleep_after,
      access: f.access,
    });
  return { manifest, issues: ctx.issues };
}

/**
 * The names other keys refer to, read leniently before validation so that a reference can be checked
 * wherever it appears in the file; bad declarations are reported where they are declared.
 */
function declaredNames(raw: unknown): Declared {
  const root = isMapping(raw) ? raw : {};
  const keys = (v: unknown): Set<string> => new Set(isMapping(v) ? Object.keys(v) : []);
  const secrets = Array.isArray(root.secrets) ? root.secrets.filter((s): s is string => typeof s === "string") : [];
  return { secrets: new Set(secrets), volumes: keys(root.volumes), services: keys(root.services), processes: keys(root.processes) };
}
