import { PRODUCTION } from "../core/names.js";
import type { Manifest } from "../manifest/manifest.js";
import type { Route } from "./ingress-plan.js";
import type { SleepCandidate } from "../store/sleep-store.js";

export type { SleepCandidate };

/**
 * How long an environment may go without a request before it sleeps; null: it never does. Production
 * sleeps only when its berth.yaml sets `sleep_after`; a preview follows `previews.sleep_after`, else
 * the operator's default (BERTH_PREVIEW_SLEEP_AFTER).
 */
export function sleepAfterFor(environment: string, manifest: Manifest | null, previewDefaultMs: number | null): number | null {
  if (environment === PRODUCTION) return manifest?.sleepAfterMs ?? null;
  const own = manifest?.previews.sleepAfterMs;
  return own === undefined ? previewDefaultMs : own;
}

/** When an environment was last in use (ms): its newest request, wake or release; idle time counts from here. */
export function lastUsed(c: Pick<SleepCandidate, "lastRequestAt" | "wokenAt" | "liveAt">): number {
  return Math.max(c.lastRequestAt?.getTime() ?? 0, c.wokenAt?.getTime() ?? 0, c.liveAt?.getTime() ?? 0);
}

/** The awake environments idle for at least their sleep_after at `now`, oldest use first. */
export function planSleep(candidates: readonly SleepCandidate[], now: number, previewDefaultMs: number | null): SleepCandidate[] {
  return candidates
    .filter((c) => {
      if (c.sleepingAt) return false;
      const after = sleepAfterFor(c.environment, c.manifest, previewDefaultMs);
      return after !== null && now - lastUsed(c) >= after;
    })
    .sort((a, b) => lastUsed(a) - lastUsed(b));
}

const HOSTNAME = /^[a-z0-9.-]{1,253}$/;
/** Longest access-log line read; Caddy's are well under 4 KiB, and a longer one is not Caddy's. */
const MAX_LINE = 16_384;

/**
 * The newest request time (ms) per hostname in a chunk of Caddy's JSON access log; lines that are not
 * access-log entries (or not JSON) are skipped. The host loses its port and case.
 */
export function parseAccessLog(text: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.length === 0 || line.length > MAX_LINE || line[0] !== "{") continue;
    let entry: { logger?: unknown; ts?: unknown; request?: { host?: unknown } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (typeof entry.logger !== "string" || !entry.logger.startsWith("http.log.access")) continue;
    if (typeof entry.ts !== "number" || typeof entry.request?.host !== "string") continue;
    const host = entry.request.host.toLowerCase().replace(/:\d+$/, "");
    if (!HOSTNAME.test(host)) continue;
    const at = Math.round(entry.ts * 1000);
    if (at > (seen.get(host) ?? 0)) seen.set(host, at);
  }
  return seen;
}

/**
 * The routes the proxy gets with sleep applied: a sleeping hostname goes whole to the waker (no path
 * routes: every container behind them is stopped); an awake hostname that can sleep logs its requests,
 * which is how its idle time is seen. Without a waker address, sleeping routes stay as they are.
 */
export function overlayRoutes(routes: readonly Route[], sleeping: ReadonlySet<string>, watched: ReadonlySet<string>, waker: string | undefined): Route[] {
  return routes.map((r) => {
    if (sleeping.has(r.hostname) && waker) return { hostname: r.hostname, upstream: waker };
    return watched.has(r.hostname) ? { ...r, logRequests: true } : r;
  });
}
