import { X509Certificate, createPrivateKey } from "node:crypto";
import { Sensitive } from "../core/sensitive.js";
import type { TlsBundle } from "../core/tls-bundle.js";
import { LABEL_KEY, LABEL_VALUE, LOCAL_SERVER, MAX_LABELS, SERVER_NAME as NAME } from "../core/server-names.js";

export { LOCAL_SERVER };

/** A server to register, validated. */
export interface ServerInput {
  name: string;
  docker: string;
  tls?: TlsBundle;
  labels: Record<string, string>;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;
const PEM_MIN = 64;
const PEM_MAX = 32 * 1024;

type Result = { ok: true; value: ServerInput } | { ok: false; error: string };
const fail = (error: string): Result => ({ ok: false, error });

/** Checks a docker URL: tcp://HOST[:PORT], ssh://USER@HOST[:PORT] or unix:///PATH; an error message, or undefined. */
export function dockerUrlProblem(docker: string): string | undefined {
  let u: URL;
  try {
    u = new URL(docker);
  } catch {
    return `docker: expected tcp://HOST:2376, ssh://USER@HOST or unix:///PATH; got ${JSON.stringify(docker.slice(0, 100))}`;
  }
  const extra = u.search || u.hash || (u.pathname && u.pathname !== "/" && u.protocol !== "unix:");
  if (u.protocol === "tcp:" || u.protocol === "ssh:") {
    if (!HOST.test(u.hostname) || extra || u.password) return `docker: expected ${u.protocol}//${u.protocol === "ssh:" ? "USER@" : ""}HOST[:PORT] and nothing else; got ${JSON.stringify(docker.slice(0, 100))}`;
    if (u.protocol === "tcp:" && u.username) return "docker: a tcp:// URL carries no user name";
    return undefined;
  }
  if (u.protocol === "unix:") {
    if (u.host || !u.pathname.startsWith("/") || u.search || u.hash) return `docker: expected unix:///absolute/path/docker.sock; got ${JSON.stringify(docker.slice(0, 100))}`;
    return undefined;
  }
  return `docker: the scheme must be tcp, ssh or unix; got ${JSON.stringify(u.protocol.replace(/:$/, ""))}`;
}

/** Checks one PEM field: its size, its block type and that it parses; an error message, or undefined. */
function pemProblem(field: string, value: unknown, kind: "CERTIFICATE" | "PRIVATE KEY"): string | undefined {
  if (typeof value !== "string") return `tls.${field}: expected a PEM string`;
  if (value.length < PEM_MIN || value.length > PEM_MAX) return `tls.${field}: expected ${PEM_MIN} to ${PEM_MAX} characters of PEM; got ${value.length}`;
  if (!new RegExp(`-----BEGIN (?:[A-Z]+ )?${kind}-----`).test(value)) return `tls.${field}: expected a PEM ${kind} block (-----BEGIN ${kind}-----)`;
  try {
    if (kind === "CERTIFICATE") new X509Certificate(value);
    else createPrivateKey(value);
  } catch (e) {
    return `tls.${field}: not a readable ${kind.toLowerCase()}: ${(e as Error).message}`;
  }
  return undefined;
}

/** Validates a POST /api/v1/servers body; every message names its field and what it expects. */
export function parseServerInput(body: unknown): Result {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return fail('expected a JSON object {"name", "docker", "tls": {"ca", "cert", "key"}, "labels"}');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !["name", "docker", "tls", "labels"].includes(k));
  if (unknown.length > 0) return fail(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; expected name, docker, tls, labels`);
  const { name, docker, tls, labels = {} } = b;
  if (typeof name !== "string" || !NAME.test(name)) return fail(`name: expected 1 to 32 lower case letters, digits and inner hyphens (like droid-1); got ${JSON.stringify(name)}`);
  if (name === LOCAL_SERVER) return fail(`name: ${LOCAL_SERVER} is the built-in server (BERTH_DOCKER_HOST); choose another name`);
  if (typeof docker !== "string" || docker.length > 300) return fail("docker: expected a URL string of at most 300 characters");
  const urlProblem = dockerUrlProblem(docker);
  if (urlProblem) return fail(urlProblem);
  const scheme = new URL(docker).protocol;
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) return fail("labels: expected an object of strings, like {\"region\": \"eu\"}");
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > MAX_LABELS) return fail(`labels: at most ${MAX_LABELS}; got ${entries.length}`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) return fail(`labels: key ${JSON.stringify(k.slice(0, 80))} must be lower case letters, digits and . _ / - (at most 63)`);
    if (typeof v !== "string" || !LABEL_VALUE.test(v)) return fail(`labels.${k}: expected letters, digits and . _ - (at most 63); got ${JSON.stringify(v)}`);
  }
  const value: ServerInput = { name, docker, labels: labels as Record<string, string> };
  if (scheme !== "tcp:") {
    if (tls !== undefined) return fail(`tls: only tcp:// engines take a TLS bundle; ${scheme}// is secured by ${scheme === "ssh:" ? "SSH" : "the socket's file permissions"}`);
    return { ok: true, value };
  }
  // Docker's API without TLS is a root login for anyone who reaches the port: berth never uses one remotely.
  if (typeof tls !== "object" || tls === null || Array.isArray(tls)) return fail("tls: a tcp:// engine needs {\"ca\", \"cert\", \"key\"} (PEM strings; provision-droid.sh makes them)");
  const t = tls as Record<string, unknown>;
  const stray = Object.keys(t).filter((k) => !["ca", "cert", "key"].includes(k));
  if (stray.length > 0) return fail(`tls: unknown field ${stray.join(", ")}; expected ca, cert, key`);
  const problem = pemProblem("ca", t.ca, "CERTIFICATE") ?? pemProblem("cert", t.cert, "CERTIFICATE") ?? pemProblem("key", t.key, "PRIVATE KEY");
  if (problem) return fail(problem);
  if (!new X509Certificate(t.cert as string).checkPrivateKey(createPrivateKey(t.key as string))) return fail("tls.key: it is not the key of tls.cert");
  return { ok: true, value: { ...value, tls: { ca: t.ca as string, cert: t.cert as string, key: new Sensitive(t.key as string) } } };
}
