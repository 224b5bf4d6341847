import http from "node:http";
import { systemClock, type Clock } from "../core/clock.js";

/** What a health probe asks of a container: an HTTP GET on its port, seen from the engine's side. */
export interface HttpTarget {
  container: string;
  network: string;
  port: number;
  path: string;
}

/** One probe: the HTTP status, or undefined when nothing answered in time. */
export type Probe = (timeoutMs: number) => Promise<number | undefined>;

/** Default readiness: the web port answers `/` with any status below 500. */
export const anyAnswer = (status: number): boolean => status < 500;

/** Healthy for a manifest `healthcheck.path`: 2xx or 3xx. */
export const success = (status: number): boolean => status >= 200 && status < 400;

/**
 * One HTTP GET to host:port; resolves the status, or undefined when no status line and headers came
 * within timeoutMs. The deadline is on the whole request: the socket's own timeout is idle time only,
 * which a server sending a header byte a second would never reach.
 */
export function httpStatus(host: string, port: number, path: string, timeoutMs = 2000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false, headers: { "user-agent": "berth-health" } }, (res) => {
      clearTimeout(deadline);
      resolve(res.statusCode);
      // The status is all a probe needs; the body may never end.
      res.on("error", () => undefined);
      res.destroy();
    });
    const deadline = setTimeout(() => req.destroy(), timeoutMs);
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.on("close", () => {
      clearTimeout(deadline);
      resolve(undefined);
    });
  });
}

/**
 * Probes every intervalMs until accept() takes the status. Resolves the elapsed milliseconds;
 * rejects with the last observation when the deadline passes or the signal aborts.
 */
export async function waitHealthy(
  probe: Probe,
  check: { port: number; path: string; accept: (status: number) => boolean },
  timeoutMs: number,
  intervalMs = 100,
  signal?: AbortSignal,
  clock: Clock = systemClock,
): Promise<number> {
  const start = clock.now();
  let last = "no answer";
  while (clock.now() - start < timeoutMs) {
    signal?.throwIfAborted();
    const status = await probe(Math.min(2000, timeoutMs));
    if (status !== undefined && check.accept(status)) return clock.now() - start;
    last = status === undefined ? "no answer" : `HTTP ${status}`;
    await clock.sleep(intervalMs, signal);
  }
  throw new Error(`no healthy answer from port ${check.port} (${check.path}) within ${Math.round(timeoutMs / 1000)}s; last: ${last}`);
}
