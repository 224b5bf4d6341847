import http from "node:http";
import https from "node:https";
import { systemClock, type Clock } from "../core/clock.js";

/** One request for a hostname through the ingress, as a user's would go: the status, or undefined when nothing answered in time. */
export type ServedProbe = (hostname: string, timeoutMs: number) => Promise<number | undefined>;

/** Where the ingress listens on berth's host, and whether it serves HTTPS. */
export interface IngressAddress {
  address: string;
  tls: boolean;
  httpPort: number;
  httpsPort: number;
}

/**
 * Probes the front-door proxy on its published host port with the app's hostname (Host header, and
 * SNI under TLS), so the answer takes the route a user's request takes. Under TLS the certificate may
 * be the proxy's internal one: the probe asks whether the release serves, not who vouches for it.
 */
export function ingressProbe(a: IngressAddress): ServedProbe {
  return (hostname, timeoutMs) =>
    new Promise((resolve) => {
      const options = { host: a.address, path: "/", timeout: timeoutMs, agent: false, headers: { host: hostname, "user-agent": "berth-served-probe" } };
      const onResponse = (res: http.IncomingMessage) => {
        res.resume();
        resolve(res.statusCode);
      };
      const req = a.tls
        ? https.get({ ...options, port: a.httpsPort, servername: hostname, rejectUnauthorized: false }, onResponse)
        : http.get({ ...options, port: a.httpPort }, onResponse);
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(undefined));
    });
}

/**
 * Asks until the proxy answers for the hostname with a status below 500 (its 502 means no upstream
 * answered yet); resolves true then, false at the deadline. Called after the route switch, whose
 * reload returns once the new config serves, so the first such answer comes from the new release.
 */
export async function waitServed(probe: ServedProbe, hostname: string, deadlineMs: number, intervalMs = 20, clock: Clock = systemClock): Promise<boolean> {
  const start = clock.now();
  while (clock.now() - start < deadlineMs) {
    const status = await probe(hostname, Math.min(1000, deadlineMs));
    if (status !== undefined && status < 500) return true;
    await clock.sleep(intervalMs);
  }
  return false;
}
