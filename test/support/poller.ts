import http from "node:http";

export interface PollStats {
  ok: number;
  failures: number;
  errors: string[];
  bodies: Set<string>;
}

/** Requests the app through the ingress back to back (keep-alive and fresh connections) until stopped. */
export function startPoller(port: number, host: string): { stop: () => Promise<PollStats> } {
  const stats: PollStats = { ok: 0, failures: 0, errors: [], bodies: new Set() };
  let running = true;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const once = (agent: http.Agent | false) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/", headers: { host }, agent, timeout: 5000 }, (res) => {
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
      req.on("error", (e) => {
        stats.failures++;
        stats.errors.push(e.message);
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
