import { afterAll, beforeAll, expect, it } from "vitest";
import { startHarness, type Harness } from "../test/support/harness.js";
import { getVia, waitFor } from "../test/support/services.js";

/**
 * Cold against warm, through berth: push to first served for an app whose dependency step takes
 * DEP seconds, first with dependencies never built before (cold), then pushes that change only the
 * source (warm: the dependency layer is cached, every fixed cost of berth is still paid). ROUNDS of
 * each; prints medians, their ratio, and the build phase alone.
 */
const DEP = Number(process.env.BENCH_DEP_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ LOG_LEVEL: "warn" }, Number(process.env.BENCH_REDIS_DB ?? 10));
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;

/** An app with a slow dependency step keyed by `deps`, and a page that says `body`. */
const tree = (deps: string, body: string) => ({
  "deps.txt": `${deps}\n`,
  "index.html": body,
  Dockerfile: `FROM berth-standin/busybox:latest\nCOPY deps.txt /deps.txt\nRUN sleep ${DEP} && cp /deps.txt /installed\nCOPY index.html /www/index.html\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
});

async function pushToServed(files: Record<string, string>, body: string): Promise<{ total: number; build: number }> {
  const before = h.repo.head;
  const sha = h.repo.commit(files, body.trim());
  const start = performance.now();
  await h.push(sha, before);
  await waitFor("new version served", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 180_000, 20);
  const total = performance.now() - start;
  const [d] = (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: "Bearer e2e-admin-token" } })).json()) as { sha: string; phases: { phase: string; sinceStartMs: number }[] }[];
  const at = (p: string) => d?.phases.find((x) => x.phase === p)?.sinceStartMs ?? NaN;
  await new Promise((r) => setTimeout(r, 1500)); // the old release drains before the next round
  return { total, build: at("build_done") - at("build_started") };
}

it("measures a warm rebuild against a cold one, push to first served", async () => {
  await pushToServed(tree(`warm-up ${Date.now()}`, "warm-up\n"), "warm-up\n"); // the proxy and network, once
  const cold: { total: number; build: number }[] = [];
  const warm: { total: number; build: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const deps = `deps ${i} ${Date.now()}`;
    cold.push(await pushToServed(tree(deps, `cold ${i}\n`), `cold ${i}\n`));
    warm.push(await pushToServed(tree(deps, `warm ${i}\n`), `warm ${i}\n`));
  }
  const c = median(cold.map((x) => x.total));
  const w = median(warm.map((x) => x.total));
  console.log(
    [
      "",
      `cold (dependency step of ${DEP}s not cached), push to first served, median of ${ROUNDS}: ${fmt(c)} [${cold.map((x) => fmt(x.total)).join(" ")}], build ${fmt(median(cold.map((x) => x.build)))}`,
      `warm (source only changed), push to first served, median of ${ROUNDS}: ${fmt(w)} [${warm.map((x) => fmt(x.total)).join(" ")}], build ${fmt(median(warm.map((x) => x.build)))}`,
      `warm is ${(c / w).toFixed(1)}x faster than cold (target 5x)`,
      "",
    ].join("\n"),
  );
  expect(w).toBeLessThan(c);
});
