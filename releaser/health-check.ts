import http from "node:http";

export interface HealthProbe {
  host: string;
  port: number;
  path: string;
  /** Statuses that count as healthy. */
  accept: (status: number) => boolean;
}

/** Default readiness: the web port answers `/` with any status below 500. */
export const anyAnswer = (status: number): boolean => status < 500;

/** One HTTP GET; resolves the status, or undefined when nothing answered. */
export function probeOnce(p: HealthProbe, timeoutMs = 2000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: p.host, port: p.port, path: p.path, timeout: timeoutMs, agent: false, headers: { "user-agent": "berth-health" } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/**
 * Polls fast (every intervalMs) until the probe is healthy. Resolves the elapsed milliseconds;
 * rejects with the last observation when the deadline passes or the signal aborts.
 */
export async function waitHealthy(p: HealthProbe, timeoutMs: number, intervalMs = 100, signal?: AbortSignal): Promise<number> {
  const start = Date.now();
  let last = "no answer";
  while (Date.now() - start < timeoutMs) {
    signal?.throwIfAborted();
    const status = await probeOnce(p, Math.min(2000, timeoutMs));
    if (status !== undefined && p.accept(status)) return Date.now() - start;
    last = status === undefined ? "no answer" : `HTTP ${status}`;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`no healthy answer from port ${p.port} (${p.path}) within ${Math.round(timeoutMs / 1000)}s; last: ${last}`);
}
