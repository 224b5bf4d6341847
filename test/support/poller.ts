import http from "node:http";

export interface PollStats {
  ok: number;
  /** Requests re-sent because a reused keep-alive connection was closed under them (RFC 9112 §9.3.1). */
  retried: number;
  failures: number;
  errors: string[];
  bodies: Set<string>;
}

/** Requests the app through the ingress back to back (keep-alive and fresh connections) until stopped. */
export function startPoller(port: number, host: string, path = "/"): { stop: () => Promise<PollStats> } {
  const stats: PollStats = { ok: 0, retried: 0, failures: 0, errors: [], bodies: new Set() };
  let running = true;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
  // A server may close an idle keep-alive connection just as the client reuses it (Caddy does on every
  // graceful reload). HTTP lets clients resend an idempotent request then, and browsers, curl and Go
  // do; Node's docs show the same check. Anything else counts as a failed request.
  const once = (agent: http.Agent | false, retry = true): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path, headers: { host }, agent, timeout: 5000 }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          if (res.statusCode === 200) {
            stats.ok++;
            stats.bodies.add(body);
          } else {
            stats.failures++;
            stats.errors.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
          }
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (retry && req.reusedSocket && (e.code === "ECONNRESET" || e.message === "socket hang up")) {
          stats.retried++;
          resolve(once(agent, false));
          return;
        }
        stats.failures++;
        // When and on which connection: a failure to read next to berth's log of the release.
        stats.errors.push(`${e.message} (${new Date().toISOString()}, ${req.reusedSocket ? "reused keep-alive connection" : agent ? "new keep-alive connection" : "new connection"}${retry ? "" : ", sent again"})`);
        resolve();
      });
    });
  const loops = [keepAlive, false as const].map(async (agent) => {
    const deadline = Date.now() + 120_000; // bounded even if stop() is never called
    while (running && Date.now() < deadline) {
      await once(agent);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      keepAlive.destroy();
      return stats;
    },
  };
}
