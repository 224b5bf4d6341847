import { afterAll, beforeAll, expect, it } from "vitest";
import { droidForSuite, startDroid } from "../test/support/droid.js";
import { staticSite } from "../test/support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../test/support/harness.js";
import { getVia, waitFor } from "../test/support/services.js";

/**
 * The same app, redeployed ROUNDS times on `local` and then ROUNDS times on a remote droid (a TLS
 * dockerd in its own network namespace), every request through the front door: push to first served
 * (as the client sees it) and the image-ready phase (the image moved to the droid), medians and their
 * ratio. Then the droid's engine is stopped and a push timed to its failed check run.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SERVER = "bench-droid";
const droid = droidForSuite(() => startDroid());
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ LOG_LEVEL: "warn" }, Number(process.env.BENCH_REDIS_DB ?? 10));
  const res = await fetch(`${h.berth.url}/api/v1/servers`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: SERVER, docker: droid().dockerUrl, tls: droid().tls }),
  });
  expect(res.status).toBe(201);
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;

async function pushToServed(server: string, body: string): Promise<{ total: number; image: number }> {
  const before = h.repo.head;
  const sha = h.repo.commit({ ...staticSite(body), "berth.yaml": `placement: { server: ${server} }\n` }, body.trim());
  const start = performance.now();
  await h.push(sha, before);
  await waitFor("new version served", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 180_000, 20);
  const total = performance.now() - start;
  // berth records its phases a moment after the client saw the page: wait for the drain, the last one.
  const d = await waitFor("phases recorded", async () => {
    const [newest] = (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { phases: { phase: string; sinceStartMs: number }[] }[];
    return newest?.phases.some((x) => x.phase === "drained") ? newest : undefined;
  }, 30_000, 100);
  const at = (p: string) => d.phases.find((x) => x.phase === p)?.sinceStartMs ?? NaN;
  return { total, image: at("image_ready") - at("build_done") };
}

it("measures push to first served on a remote droid against local, and a release to a dead droid", async () => {
  const runs: Record<string, { total: number; image: number }[]> = { local: [], [SERVER]: [] };
  for (const server of ["local", SERVER]) {
    if (server === SERVER) {
      // Production moves to the droid once (its first release there sends the base layers).
      const r = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/move`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ server }) });
      expect([200, 202]).toContain(r.status);
    }
    await pushToServed(server, `warm-up ${server}\n`);
    for (let i = 0; i < ROUNDS; i++) runs[server]!.push(await pushToServed(server, `${server} ${i}\n`));
  }
  const l = median(runs.local!.map((x) => x.total));
  const r = median(runs[SERVER]!.map((x) => x.total));

  await droid().stopEngine();
  const before = h.repo.head;
  const sha = h.repo.commit({ ...staticSite("never\n"), "berth.yaml": `placement: { server: ${SERVER} }\n` }, "dead droid");
  const start = performance.now();
  await h.push(sha, before);
  const check = await waitFor("failed check run", () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 20);
  const dead = performance.now() - start;
  const [d] = (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { phases: { phase: string; sinceStartMs: number }[] }[];
  const built = d?.phases.find((x) => x.phase === "build_done")?.sinceStartMs ?? NaN;

  console.log(
    [
      "",
      `push to first served on local, median of ${ROUNDS}: ${fmt(l)} [${runs.local!.map((x) => fmt(x.total)).join(" ")}]; image ready ${fmt(median(runs.local!.map((x) => x.image)))} after the build`,
      `push to first served on ${SERVER} (TLS, own netns), median of ${ROUNDS}: ${fmt(r)} [${runs[SERVER]!.map((x) => fmt(x.total)).join(" ")}]; image moved in ${fmt(median(runs[SERVER]!.map((x) => x.image)))}`,
      `droid / local: ${(r / l).toFixed(2)}x (+${fmt(r - l)})`,
      `push to failed check run with the droid's engine stopped: ${fmt(dead)} (${check.conclusion}; build done at ${fmt(built)}, so the release failed ${fmt(dead - built)} after it)`,
    ].join("\n"),
  );
  expect(check.conclusion).toBe("failure");
});
