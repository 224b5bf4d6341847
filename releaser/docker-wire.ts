import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { Sensitive } from "../core/sensitive.js";
import type { TlsBundle } from "../core/tls-bundle.js";

/** Dockerode options for a Docker endpoint: unix:///path, tcp://host:port (TLS from DOCKER_CERT_PATH), ssh://user@host. */
export function dockerOptions(endpoint: string, env: Record<string, string | undefined> = process.env): Docker.DockerOptions {
  const certs = env.DOCKER_CERT_PATH;
  const read = (f: string): string => readFileSync(join(certs ?? "", f), "utf8");
  const tls = certs ? { ca: read("ca.pem"), cert: read("cert.pem"), key: new Sensitive(read("key.pem")) } : undefined;
  return engineOptions(endpoint, tls, env.DOCKER_TLS_VERIFY === "1");
}

/**
 * Dockerode options for an engine at a URL with its client TLS bundle (a registered server). tcp://
 * speaks TLS when a bundle is given (or verify is set), plain HTTP otherwise. The key is unwrapped
 * here, at the moment of use.
 */
export function engineOptions(endpoint: string, tls?: TlsBundle, verify = false): Docker.DockerOptions {
  const u = new URL(endpoint);
  switch (u.protocol) {
    case "unix:":
      return { socketPath: u.pathname };
    case "ssh:":
      return { protocol: "ssh", host: u.hostname, port: Number(u.port || 22), username: u.username || "root" };
    default: {
      const secure = u.protocol === "https:" || verify || Boolean(tls);
      return {
        protocol: secure ? "https" : "http",
        host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(u.port || (secure ? 2376 : 2375)),
        ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key.unwrap() } : {}),
      };
    }
  }
}

/** Docker's health state from a container listing's status text, e.g. "Up 5 minutes (unhealthy)". */
export function healthOf(status: string | undefined): { health?: "starting" | "healthy" | "unhealthy" } {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status ?? "");
  if (!m) return {};
  return { health: m[1] === "health: starting" ? "starting" : (m[1] as "healthy" | "unhealthy") };
}

/** Decodes Docker's multiplexed log stream (8-byte frame headers) into text. */
export function demux(buf: Buffer): string {
  let out = "";
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2 || buf[i] === 0)) {
    const len = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + len).toString();
    i += 8 + len;
  }
  return i === 0 ? buf.toString() : out;
}
