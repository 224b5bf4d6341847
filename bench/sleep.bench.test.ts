import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../test/support/harness.js";
import { startPrivateRedis, type PrivateRedis } from "../test/support/private-services.js";
import { getVia, waitFor } from "../test/support/services.js";

/**
 * Memory of N previews of a tiny app awake and then asleep (each put to sleep through the API), and
 * the time to wake each one with a plain GET. Memory per container from its cgroup (docker stats)
 * plus the PSS of its containerd shim, which exits with the container.
 */
const N = Number(process.env.BENCH_PREVIEWS ?? 20);
let h: Harness;
let redis: PrivateRedis;

beforeAll(async () => {
  redis = await startPrivateRedis();
  h = await startHarness({ LOG_LEVEL: "info", BERTH_BUILD_CONCURRENCY: "2", REDIS_URL: redis.url });
  h.repo.commit(staticSite("base\n"), "base");
});
afterAll(async () => {
  await h?.stop();
  await redis?.destroy();
});

const pss = (pid: number): number => {
  try {
    return Number(/Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
const toMiB = (s: string): number => {
  const m = /([\d.]+)\s*([KMG]i?B)/.exec(s);
  const f: Record<string, number> = { KiB: 1 / 1024, MiB: 1, GiB: 1024, KB: 1 / 1000, MB: 1, GB: 1000 };
  return m ? Number(m[1]) * (f[m[2] ?? "MiB"] ?? 1) : 0;
};

/** Running containers of the app, and their memory: cgroup usage plus each one's containerd shim. */
function appMemory(app: string): { running: number; containerMiB: number; shimMiB: number } {
  const ids = execFileSync("docker", ["ps", "-q", "--no-trunc", "--filter", `label=berth.app=${app}`], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  if (ids.length === 0) return { running: 0, containerMiB: 0, shimMiB: 0 };
  const stats = execFileSync("docker", ["stats", "--no-stream", "--format", "{{.MemUsage}}", ...ids], { encoding: "utf8" }).trim().split("\n");
  const containerMiB = stats.map((s) => toMiB(s.split("/")[0] ?? "")).reduce((a, b) => a + b, 0);
  const shims = execFileSync("pgrep", ["-a", "-f", "containerd-shim"], { encoding: "utf8" }).trim().split("\n");
  const shimMiB = shims.filter((l) => ids.some((id) => l.includes(id))).reduce((a, l) => a + pss(Number(l.split(" ")[0])), 0);
  return { running: ids.length, containerMiB, shimMiB };
}

const api = (method: string, path: string) => fetch(`${h.berth.url}/api/v1/apps/${h.app}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

it(`memory of ${N} previews awake and asleep, and their wake times`, async () => {
  for (let n = 1; n <= N; n++) {
    const sha = h.repo.commitToPull(n, staticSite(`preview ${n}\n`));
    await h.pull({ action: "opened", number: n, head: sha });
  }
  for (let n = 1; n <= N; n++) {
    await waitFor(`preview ${n}`, async () => (await getVia(h.ingressPort, `${h.app}-pr-${n}.localhost`).catch(() => undefined))?.body === `preview ${n}\n`, 600_000, 200);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const awake = appMemory(h.app);

  for (let n = 1; n <= N; n++) expect((await api("POST", `/environments/pr-${n}/sleep`)).status).toBe(200);
  await new Promise((r) => setTimeout(r, 2000));
  const asleep = appMemory(h.app);

  const wakes: number[] = [];
  for (let n = 1; n <= N; n++) {
    const t0 = performance.now();
    const r = await getVia(h.ingressPort, `${h.app}-pr-${n}.localhost`);
    wakes.push(performance.now() - t0);
    expect([r.status, r.body]).toEqual([200, `preview ${n}\n`]);
  }
  const sorted = [...wakes].sort((a, b) => a - b);
  const mib = (m: { containerMiB: number; shimMiB: number }): string => `${(m.containerMiB + m.shimMiB).toFixed(1)} MiB (containers ${m.containerMiB.toFixed(1)} + shims ${m.shimMiB.toFixed(1)})`;
  console.log(
    [
      "",
      `${N} previews awake: ${awake.running} containers running, ${mib(awake)}`,
      `${N} previews asleep: ${asleep.running} containers running, ${mib(asleep)}`,
      `wake to first 200 of each (ms): median ${Math.round(sorted[Math.floor(N / 2)] ?? 0)}, max ${Math.round(sorted.at(-1) ?? 0)}`,
      "",
    ].join("\n"),
  );
  // berth's own account of each wake: containers started, healthy, routed (ms since the wake began).
  for (const line of h.berth.output().split("\n").filter((l) => l.includes("environment woke"))) {
    const e = JSON.parse(line) as Record<string, unknown>;
    console.log(`wake ${String(e.environment)}: started ${String(e.startedMs)} healthy ${String(e.healthyMs)} routed ${String(e.ms)}`);
  }
  expect(asleep.running).toBe(0);
});
