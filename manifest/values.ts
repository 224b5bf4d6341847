import { posix } from "node:path";
import type { ManifestPath } from "./manifest-error.js";
import { requestPathProblem, routePathProblem } from "../core/url-path.js";
import { MAX_COUNT, MAX_LENGTH, MAX_VALUE } from "./limits.js";
import { type ManifestContext, type Read, atMostChars, atMostEntries, describe, isMapping, put } from "./reader.js";
import { formatReference, parseTemplate } from "./references.js";
import { parseMemory } from "./units.js";
import type { FileMount, VolumeMount } from "./types.js";

/*
 * Readers for the value types of berth.yaml that know about berth: env maps and their references,
 * volume mounts, repository paths, sizes. The generic ones (text, numbers, lists) are in manifest-reader.ts.
 */

// Docker passes env as "NAME=value", so a name cannot hold "="; whitespace would be invisible in the UI.
const ENV_NAME = /^[^=\s]+$/;
// Docker refuses memory limits below 6 MiB.
const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * A mapping of names to text values: numbers and true/false become text, as docker-compose does.
 * In `env`, `${secret.NAME}` must name a declared secret and `${service.NAME.host}` a service, and
 * BERTH_* names are berth's own; build `args` take no references at all.
 */
export function stringMap(kind: "env" | "args"): Read<Record<string, string>> {
  return (ctx, path, raw) => {
    if (!isMapping(raw)) return ctx.fail(path, `expected a mapping of names to values, such as { NODE_ENV: production }; got ${describe(raw)}`);
    if (!atMostEntries(ctx, path, raw, MAX_COUNT.envEntries, "variables")) return undefined;
    const out: Record<string, string> = {};
    let size = 0;
    for (const [name, value] of Object.entries(raw)) {
      const at = [...path, name];
      if (!ENV_NAME.test(name)) {
        ctx.fail(at, `expected a variable name without "=" or spaces; got ${describe(name)}`);
        continue;
      }
      if (kind === "env" && name.startsWith("BERTH_")) {
        ctx.fail(at, "names starting with BERTH_ are set by berth itself (BERTH_APP, BERTH_URL, ...); choose another name");
        continue;
      }
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        ctx.fail(at, `expected text, a number or true/false; got ${describe(value)} (write "" for an empty value)`);
        continue;
      }
      const text = String(value);
      if (kind === "env") checkReferences(ctx, at, text);
      else if (parseTemplate(text).parts.some((p) => typeof p !== "string")) {
        ctx.fail(at, "build args are baked into the image, so they cannot use ${secret...} or ${service...}; pass these at run time through env");
        continue;
      }
      put(out, name, text);
      size += name.length + text.length + 1;
    }
    // Checked once for the whole mapping, as that is how a container's environment is limited.
    if (size > MAX_LENGTH.env) return ctx.fail(path, `expected at most ${MAX_LENGTH.env} characters of names and values in all; got ${size}`);
    return out;
  };
}

function checkReferences(ctx: ManifestContext, path: ManifestPath, value: string): void {
  const { parts, problems } = parseTemplate(value);
  for (const problem of problems) ctx.fail(path, problem);
  for (const part of parts) {
    if (typeof part === "string") continue;
    if (part.kind === "secret" && !ctx.declared.secrets.has(part.name)) {
      ctx.fail(path, `${formatReference(part)} names no declared secret; add ${part.name} to secrets${declaredList(ctx.declared.secrets, "secrets")}`);
    } else if (part.kind === "service-host" && !ctx.declared.services.has(part.service)) {
      ctx.fail(path, `${formatReference(part)} names no service${declaredList(ctx.declared.services, "services")}`);
    }
  }
}

function declaredList(names: ReadonlySet<string>, what: string): string {
  return names.size === 0 ? ` (no ${what} are declared)` : ` (declared: ${[...names].join(", ")})`;
}

/** `name:/path` or `name:/path:ro`, where the name is a declared volume. */
export const volumeMount: Read<VolumeMount> = (ctx, path, raw) => {
  const expected = `expected "name:/path" or "name:/path:ro"; got ${describe(raw)}`;
  if (typeof raw !== "string") return ctx.fail(path, expected);
  const parts = raw.split(":");
  const [name = "", target = "", mode] = parts;
  if (parts.length < 2 || parts.length > 3 || name === "") return ctx.fail(path, expected);
  if (/^[./~]/.test(name)) {
    return ctx.fail(path, `"${name}" is a host path; berth mounts named volumes only: declare one under the top-level volumes, or mount a repository file with files`);
  }
  if (!ctx.declared.volumes.has(name)) {
    return ctx.fail(path, `volume "${name}" is not declared; add it to the top-level volumes, e.g. volumes: { ${name}: {} }`);
  }
  const containerPath = absolutePath(target);
  if (!containerPath) return ctx.fail(path, `expected an absolute path in the container after "${name}:"; got ${describe(target)}`);
  if (!atMostChars(ctx, path, containerPath, MAX_LENGTH.path)) return undefined;
  if (mode !== undefined && mode !== "ro" && mode !== "rw") return ctx.fail(path, `expected :ro or :rw after the path; got ":${mode}"`);
  return { volume: name, path: containerPath, readOnly: mode === "ro" };
};

/** A list of volume mounts, each container path at most once. */
export const volumeMounts: Read<VolumeMount[]> = (ctx, path, raw) => {
  if (!Array.isArray(raw)) return ctx.fail(path, `expected a list such as ["media:/app/media"]; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.volumes, "volumes")) return undefined;
  const out: VolumeMount[] = [];
  raw.forEach((item, i) => {
    const mount = volumeMount(ctx, [...path, i], item);
    if (!mount) return;
    if (out.some((m) => m.path === mount.path)) ctx.fail([...path, i], `"${mount.path}" is already mounted by an earlier entry`);
    else out.push(mount);
  });
  return out;
};

/** `files:` — absolute container paths to repository paths, mounted read-only from the checked-out source. */
export const fileMounts: Read<FileMount[]> = (ctx, path, raw) => {
  if (!isMapping(raw)) {
    return ctx.fail(path, `expected a mapping of container paths to repository paths, such as { /etc/nginx/nginx.conf: deploy/nginx.conf }; got ${describe(raw)}`);
  }
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.files, "files")) return undefined;
  const out: FileMount[] = [];
  for (const [target, source] of Object.entries(raw)) {
    const at = [...path, target];
    const containerPath = absolutePath(target);
    if (!containerPath) {
      ctx.fail(at, `expected an absolute path in the container as the key; got ${describe(target)}`);
      continue;
    }
    if (!atMostChars(ctx, at, containerPath, MAX_LENGTH.path)) continue;
    const repoPath = repositoryFile(ctx, at, source);
    if (repoPath !== undefined) out.push({ path: containerPath, source: repoPath });
  }
  return out;
};

/**
 * A relative path that stays inside `root` once normalized (`a/../b` is fine, `../b` is not);
 * `.` stands for the root itself.
 */
export function relativePath(root: string, example: string): Read<string> {
  return (ctx, path, raw) => {
    if (typeof raw !== "string" || raw.trim() === "") return ctx.fail(path, `expected a path in ${root}, such as ${example}; got ${describe(raw)}`);
    if (raw.startsWith("/")) return ctx.fail(path, `expected a path relative to ${root}, such as ${example}; got ${describe(raw)}`);
    if (!atMostChars(ctx, path, raw, MAX_LENGTH.path)) return undefined;
    const normal = posix.normalize(raw).replace(/(.)\/+$/, "$1");
    if (normal === ".." || normal.startsWith("../")) return ctx.fail(path, `${describe(raw)} leaves ${root}`);
    return normal;
  };
}

const repositoryFile = relativePath("the repository", "deploy/nginx.conf");

function urlPath(problemOf: (path: string) => string | undefined, example: string): Read<string> {
  return (ctx, path, raw) => {
    if (typeof raw !== "string") return ctx.fail(path, `expected a path starting with /, such as ${example}; got ${describe(raw)}`);
    const problem = problemOf(raw);
    if (problem) return ctx.fail(path, `${problem}; got ${describe(raw)}`);
    return atMostChars(ctx, path, raw, MAX_LENGTH.urlPath) ? raw : undefined;
  };
}

/** `routes[].path`, such as `/static/*`: what the ingress can match (core/url-path.ts). */
export const routePath = urlPath(routePathProblem, "/static/*");

/** `healthcheck.path`, such as `/health` or `/health?full=1`: what the health probe can request. */
export const requestPath = urlPath(requestPathProblem, "/health");

/** `512m`, `1g`, `256k` or a whole number of bytes, in bytes. */
export const memory: Read<number> = (ctx, path, raw) => {
  const bytes = typeof raw === "string" || typeof raw === "number" ? parseMemory(raw) : undefined;
  if (bytes === undefined) return ctx.fail(path, `expected a size such as 512m, 1g, 256k or a number of bytes; got ${describe(raw)}`);
  if (bytes < MIN_MEMORY) return ctx.fail(path, `expected at least 6m, Docker's smallest memory limit; got ${describe(raw)}`);
  if (bytes > MAX_VALUE.memoryBytes) return ctx.fail(path, `expected at most ${MAX_VALUE.memory}; got ${describe(raw)}`);
  return bytes;
};

/** A number of CPUs, from Docker's smallest limit up; compose files often quote it ("0.5"), so text that is a number is accepted. */
export const cpus: Read<number> = (ctx, path, raw) => {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < MAX_VALUE.minCpus || n > MAX_VALUE.cpus) {
    return ctx.fail(path, `expected a number of CPUs from ${MAX_VALUE.minCpus} to ${MAX_VALUE.cpus}, such as 0.5 or 2; got ${describe(raw)}`);
  }
  return n;
};

/** Undefined for anything but a normalized absolute path; mounting over `/` itself is refused too. */
function absolutePath(raw: string): string | undefined {
  if (!raw.startsWith("/")) return undefined;
  const normal = posix.normalize(raw).replace(/\/+$/, "");
  return normal === "" ? undefined : normal;
}
