import { foreignImage } from "../core/names.js";
import { MAX_COUNT, MAX_LENGTH, MAX_VALUE } from "./limits.js";
import type { ManifestPath } from "./manifest-error.js";
import { type ManifestContext, type Read, atMostEntries, command, describe, duration, fields, isMapping, port, put, requireKey, text, wholeNumber, withoutUndefined } from "./reader.js";
import type { CommandHealthcheck, Healthcheck, HttpHealthcheck, ProcessSettings, Resources, ServiceSettings, WebSettings } from "./types.js";
import { cpus, fileMounts, memory, requestPath, stringMap, volumeMounts } from "./values.js";

/*
 * The schema of the containers in berth.yaml: web, processes and services, with their health checks
 * and resources. Each SHAPE lists every key its mapping may have; anything else is rejected.
 */

const HEALTH_MAX = MAX_VALUE.healthDuration;
const HEALTHCHECK_SHAPE = { path: requestPath, command, interval: duration(1, HEALTH_MAX), timeout: duration(1, HEALTH_MAX), start_period: duration(0, HEALTH_MAX) };
const RESOURCES_SHAPE = { memory, cpus };
// DNS label: processes and services become hostnames and parts of Docker names.
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `resources:` — memory in bytes and CPUs. */
export const resources: Read<Resources> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, RESOURCES_SHAPE);
  return f && withoutUndefined({ memoryBytes: f.memory, cpus: f.cpus });
};

/** `healthcheck:` — `{ path, … }` (an HTTP check, web only) or `{ command, … }`, never both. */
export function healthcheck(http: boolean): Read<Healthcheck> {
  return (ctx, path, raw) => {
    const f = fields(ctx, path, raw, HEALTHCHECK_SHAPE);
    if (!f || !isMapping(raw)) return undefined;
    const timing = { intervalMs: f.interval, timeoutMs: f.timeout, startPeriodMs: f.start_period };
    const hasPath = raw.path !== null && raw.path !== undefined;
    const hasCommand = raw.command !== null && raw.command !== undefined;
    if (hasPath && hasCommand) return ctx.fail(path, "set either path (an HTTP check) or command, not both");
    if (hasPath && !http) return ctx.fail([...path, "path"], "HTTP checks (path) are for web; check this container with command: [...]");
    if (!hasPath && !hasCommand) {
      return ctx.fail(path, http ? "expected path (an HTTP check, such as /health) or command" : "expected command, such as [pg_isready, -U, postgres]");
    }
    if (f.path !== undefined) return withoutUndefined<HttpHealthcheck>({ kind: "http", path: f.path, ...timing });
    if (f.command !== undefined) return withoutUndefined<CommandHealthcheck>({ kind: "command", command: f.command, ...timing });
    return undefined;
  };
}

const commandHealthcheck: Read<CommandHealthcheck> = (ctx, path, raw) => {
  const h = healthcheck(false)(ctx, path, raw);
  return h?.kind === "command" ? h : undefined;
};

const WEB_SHAPE = { port, command, healthcheck: healthcheck(true), resources, volumes: volumeMounts };
const PROCESS_SHAPE = { command, replicas: wholeNumber(0, MAX_VALUE.replicas), healthcheck: commandHealthcheck, resources, volumes: volumeMounts };
/** A service's image: public, never an app's build or a bare id that could name one. */
const serviceImage: Read<string> = (ctx, path, raw) => {
  const ref = text(MAX_LENGTH.image)(ctx, path, raw);
  if (ref === undefined) return undefined;
  const why = foreignImage(ref);
  return why ? ctx.fail(path, `${ref} is ${why}`) : ref;
};

const SERVICE_SHAPE = {
  image: serviceImage,
  command,
  env: stringMap("env"),
  volumes: volumeMounts,
  files: fileMounts,
  healthcheck: commandHealthcheck,
  resources,
};

/** `web:` — the main container. */
export const web: Read<WebSettings> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, WEB_SHAPE);
  if (!f) return undefined;
  return withoutUndefined({ port: f.port, command: f.command, healthcheck: f.healthcheck, resources: f.resources ?? {}, volumes: f.volumes ?? [] });
};

/** web when the file has no `web:`. */
export function defaultWeb(): WebSettings {
  return { resources: {}, volumes: [] };
}

const processSettings: Read<ProcessSettings> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, PROCESS_SHAPE);
  if (!f) return undefined;
  requireKey(ctx, path, raw, "command", "the command this process runs, such as \"rq worker\"");
  if (!f.command) return undefined;
  return withoutUndefined({
    command: f.command,
    replicas: f.replicas ?? 1,
    healthcheck: f.healthcheck,
    resources: f.resources ?? {},
    volumes: f.volumes ?? [],
  });
};

const serviceSettings: Read<ServiceSettings> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, SERVICE_SHAPE);
  if (!f) return undefined;
  requireKey(ctx, path, raw, "image", "the public image to run, such as postgres:16");
  if (!f.image) return undefined;
  if (/\s/.test(f.image)) return ctx.fail([...path, "image"], `expected an image reference such as postgres:16; got ${describe(f.image)}`);
  const volumes = f.volumes ?? [];
  for (const file of f.files ?? []) {
    if (volumes.some((v) => v.path === file.path)) ctx.fail([...path, "files", file.path], `"${file.path}" is also where a volume is mounted`);
  }
  return withoutUndefined({
    image: f.image,
    command: f.command,
    env: f.env ?? {},
    volumes,
    files: f.files ?? [],
    healthcheck: f.healthcheck,
    resources: f.resources ?? {},
  });
};

/** `processes:` — named process types; names are DNS labels other than web and other than any service's. */
export const processes: Read<Record<string, ProcessSettings>> = (ctx, path, raw) => namedMap(ctx, path, raw, "process", processSettings);

/** `services:` — named public images; the name is the hostname on the app's network. */
export const services: Read<Record<string, ServiceSettings>> = (ctx, path, raw) => namedMap(ctx, path, raw, "service", serviceSettings);

function namedMap<T>(ctx: ManifestContext, path: ManifestPath, raw: unknown, kind: "process" | "service", read: Read<T>): Record<string, T> | undefined {
  const example = kind === "process" ? "{ worker: { command: rq worker } }" : "{ db: { image: postgres:16 } }";
  if (!isMapping(raw)) return ctx.fail(path, `expected a mapping of names to settings, such as ${example}; got ${describe(raw)}`);
  const plural = kind === "process" ? "processes" : "services";
  if (!atMostEntries(ctx, path, raw, MAX_COUNT[plural], plural)) return undefined;
  const out: Record<string, T> = {};
  for (const [name, value] of Object.entries(raw)) {
    const at = [...path, name];
    if (!DNS_LABEL.test(name)) {
      ctx.fail(at, `"${name}" cannot be a ${kind} name: use lower-case letters, digits and "-" (at most 63, not first or last)`);
      continue;
    }
    if (name === "web") {
      ctx.fail(at, `"web" is the main container's name; call this ${kind} something else`);
      continue;
    }
    if (kind === "service" && ctx.declared.processes.has(name)) {
      ctx.fail(at, `a process is also named "${name}"; processes and services need different names, as routes use them`);
      continue;
    }
    // `worker:` with nothing after it still gets its required keys reported.
    const settings = read(ctx, at, value ?? {});
    if (settings !== undefined) put(out, name, settings);
  }
  return out;
}
