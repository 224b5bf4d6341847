import type { IncomingMessage } from "node:http";

/** Requests berth's own proxy handed over (berth's hostname, through the waker's listener). */
const proxied = new WeakSet<IncomingMessage>();

/** Marks a request that came through berth's own proxy, whose X-Forwarded-For can be trusted. */
export function markProxied(req: IncomingMessage): void {
  proxied.add(req);
}

/**
 * The address a request came from: the socket's peer, or, for a request berth's own proxy handed over,
 * the last X-Forwarded-For entry, which that proxy wrote (anything before it is the client's say).
 */
export function clientAddress(req: IncomingMessage): string {
  if (proxied.has(req)) {
    const forwarded = String(req.headers["x-forwarded-for"] ?? "").split(",").map((a) => a.trim()).filter(Boolean).at(-1);
    if (forwarded && forwarded.length <= 64) return forwarded;
  }
  return req.socket.remoteAddress ?? "unknown";
}

/**
 * A fixed-window bound of calls a minute, per client and in all: one client cannot use up what every
 * other client may do, and all together stay under what GitHub is asked. Keeps at most `maxClients`
 * addresses a window; past that, unknown clients share the total only.
 */
export function perClientLimit(perClient: number, total: number, maxClients = 10_000): (client: string) => boolean {
  let windowStart = 0;
  let used = 0;
  const byClient = new Map<string, number>();
  return (client) => {
    const now = Date.now();
    if (now - windowStart > 60_000) {
      [windowStart, used] = [now, 0];
      byClient.clear();
    }
    const mine = byClient.get(client) ?? 0;
    if (mine >= perClient || used >= total) return false;
    if (byClient.size < maxClients || byClient.has(client)) byClient.set(client, mine + 1);
    used++;
    return true;
  };
}
