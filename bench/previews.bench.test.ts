import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { startHarness, type Harness } from "../test/support/harness.js";
import { getVia, waitFor } from "../test/support/services.js";

/**
 * How many previews of a tiny app one droid server holds: opens N pull requests, waits until every
 * preview serves, and reports memory per preview (container cgroup + its containerd shim).
 */
const N = Number(process.env.BENCH_PREVIEWS ?? 20);
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILD_CONCURRENCY: "2" }, 12);
  h.repo.commit(staticSite("base\n"), "base");
});
afterAll(async () => {
  await h?.stop();
});

const pss = (pid: number): number => {
  try {
    return Number(/Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};

it(`opens ${N} previews and measures memory per preview`, async () => {
  const started = performance.now();
  for (let n = 1; n <= N; n++) {
    const sha = h.repo.commitToPull(n, staticSite(`preview ${n}\n`));
    await h.pull({ action: "opened", number: n, head: sha });
  }
  for (let n = 1; n <= N; n++) {
    await waitFor(`preview ${n}`, async () => (await getVia(h.ingressPort, `${h.app}-pr-${n}.localhost`).catch(() => undefined))?.body === `preview ${n}\n`, 300_000, 100);
  }
  const allLiveMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 2000));

  const ids = execFileSync("docker", ["ps", "-q", "--filter", `label=berth.app=${h.app}`], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  const stats = execFileSync("docker", ["stats", "--no-stream", "--format", "{{.MemUsage}}", ...ids], { encoding: "utf8" }).trim().split("\n");
  const toMiB = (s: string): number => {
    const m = /([\d.]+)\s*([KMG]i?B)/.exec(s);
    const f: Record<string, number> = { KiB: 1 / 1024, MiB: 1, GiB: 1024, KB: 1 / 1000, MB: 1, GB: 1000 };
    return m ? Number(m[1]) * (f[m[2] ?? "MiB"] ?? 1) : 0;
  };
  const containerMiB = stats.map((s) => toMiB(s.split("/")[0] ?? "")).reduce((a, b) => a + b, 0) / ids.length;
  const shims = execFileSync("pgrep", ["-f", "containerd-shim"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  const shimMiB = shims.reduce((a, p) => a + pss(p), 0) / shims.length;
  const perPreview = containerMiB + shimMiB;
  const lines = [
    `${ids.length} previews live on one droid server in ${(allLiveMs / 1000).toFixed(1)}s (opened back to back, build concurrency 2)`,
    `memory per preview: container ${containerMiB.toFixed(2)} MiB + containerd shim ${shimMiB.toFixed(2)} MiB = ${perPreview.toFixed(2)} MiB`,
    `previews that fit beside the 300 MB platform on a 1 GB server: ~${Math.floor((1024 - 300) / perPreview)}; on this 24 GiB machine: ~${Math.floor((24 * 1024 - 300) / perPreview)}`,
  ];
  console.log(`\n${lines.join("\n")}\n`);
  expect(ids.length).toBe(N);
});
