import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { docker } from "../test/support/docker-cleanup.js";
import type { Harness } from "../test/support/harness.js";

/** Proportional set sizes (shared pages split fairly) of berth, Postgres, Redis and the proxy container, in MB. */
export async function platformMemory(h: Harness): Promise<{ berth: number; postgres: number; redis: number; proxy: number; total: number }> {
  await new Promise((r) => setTimeout(r, 3000));
  const pss = (pid: number): number => {
    try {
      const m = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      return Number(m?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  };
  const pids = (pattern: string): number[] => {
    try {
      return execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const descendants = (pid: number): number[] => {
    let out: number[] = [pid];
    try {
      for (const c of execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean)) out = out.concat(descendants(Number(c)));
    } catch {
      /* no children */
    }
    return out;
  };
  const sum = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + pss(b), 0));
  const berth = sum(descendants(h.berth.child.pid ?? 0).filter((p) => /node/.test(readFileSync(`/proc/${p}/comm`, "utf8"))));
  // The server's own processes and the backends of berth's database, not other databases' clients
  // (tests running beside the bench): the postmaster, its auxiliary processes, berth's connections.
  const client = new pg.Client({ connectionString: h.databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>("select pid from pg_stat_activity where (datname = current_database() and pid <> pg_backend_pid()) or backend_type <> 'client backend'");
  await client.end();
  const postmaster = pids("postgres").sort((a, b) => a - b).find((p) => !/postgres: /.test(readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ")));
  const postgres = sum([...rows.map((r) => r.pid), ...(postmaster ? [postmaster] : [])]);
  const redis = sum(pids("redis-server"));
  // No proxy before the first release: it costs nothing yet.
  const proxyInfo = await docker.getContainer(h.proxy).inspect().catch(() => undefined);
  const proxy = proxyInfo ? sum(descendants(proxyInfo.State.Pid)) : 0;
  return { berth, postgres, redis, proxy, total: berth + postgres + redis + proxy };
}
