import Docker from "dockerode";
import type { EngineFacts } from "../store/db.js";

/** Why an engine could not be used: not reached at all, TLS refused (either side), or something else answered. */
export type EngineProblem = "unreachable" | "tls" | "not-docker";

/** A failed engine check, with a message for the operator that says what to do. */
export class EngineCheckError extends Error {
  constructor(
    readonly problem: EngineProblem,
    message: string,
  ) {
    super(message);
    this.name = "EngineCheckError";
  }
}

const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EINVAL", "ECONNRESET", "EPIPE", "ENOENT", "EACCES"]);

/** Sorts a failed engine call into unreachable, TLS or not-Docker, naming the cause. */
export function classifyEngineError(e: unknown, endpoint: string, timeoutMs: number): EngineCheckError {
  const err = e as { code?: string; message?: string; statusCode?: number; reason?: string };
  const code = err.code ?? "";
  const message = String(err.message ?? e).trim();
  // A TLS client talking to a plain-text service reads its first bytes as a bogus TLS record.
  if (/wrong[_ ]version[_ ]number|packet[_ ]length[_ ]too[_ ]long|http[_ ]request|unknown[_ ]protocol/i.test(code + message)) {
    return new EngineCheckError("not-docker", `${endpoint} does not speak TLS: no TLS-protected Docker engine listens there (a plain-text port such as 2375, or another service). Point --docker at the engine's TLS port (2376 by default).`);
  }
  if (/^(ERR_SSL_|ERR_TLS_)|CERT|SIGNATURE|SELF_SIGNED|ISSUER|VERIFY/i.test(code) || /alert|certificate/i.test(message)) {
    return new EngineCheckError("tls", `TLS with ${endpoint} failed: ${message}${code && !message.includes(code) ? ` (${code})` : ""}. The engine must present a certificate signed by the given ca.pem, and accept the given cert.pem, signed by the CA it trusts (provision-droid.sh prints a matching bundle).`);
  }
  if (message === "timeout" || /timed out/i.test(message)) {
    return new EngineCheckError("unreachable", `${endpoint} did not answer within ${timeoutMs / 1000}s: check that the engine runs and that a firewall lets berth's host reach that port.`);
  }
  if (err.statusCode !== undefined) {
    return new EngineCheckError("not-docker", `${endpoint} answered HTTP ${err.statusCode} where a Docker engine answers its API: it is not a Docker engine (${message.slice(0, 200)}).`);
  }
  if (UNREACHABLE.has(code)) {
    return new EngineCheckError("unreachable", `cannot reach ${endpoint}: ${message}. Check the address and port, that the engine runs, and the firewall.`);
  }
  return new EngineCheckError("unreachable", `cannot use ${endpoint}: ${message}`);
}

/**
 * Connects to an engine (dockerode options, e.g. from engineOptions) and returns its facts, within
 * timeoutMs in all: the check berth makes before it registers a server, and whenever it lists one.
 * Throws EngineCheckError naming endpoint.
 */
export async function checkEngine(options: Docker.DockerOptions, endpoint: string, timeoutMs = 5000): Promise<EngineFacts> {
  const docker = new Docker({ ...options, timeout: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })), timeoutMs);
  });
  try {
    const [info, version] = (await Promise.race([Promise.all([docker.info(), docker.version()]), deadline])) as unknown as [Record<string, unknown>, Record<string, unknown>];
    if (typeof info?.ServerVersion !== "string" || typeof version?.ApiVersion !== "string" || typeof info.NCPU !== "number") {
      throw new EngineCheckError("not-docker", `${endpoint} answered, but not as a Docker engine does (no ServerVersion, ApiVersion and NCPU in /info and /version).`);
    }
    return {
      version: info.ServerVersion,
      apiVersion: version.ApiVersion,
      os: String(info.OperatingSystem ?? ""),
      cpus: info.NCPU,
      memoryBytes: Number(info.MemTotal ?? 0),
      containers: Number(info.Containers ?? 0),
      running: Number(info.ContainersRunning ?? 0),
    };
  } catch (e) {
    if (e instanceof EngineCheckError) throw e;
    throw classifyEngineError(e, endpoint, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}
