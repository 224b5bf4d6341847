import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { startHarness, type Harness } from "../test/support/harness.js";
import { startPoller } from "../test/support/poller.js";
import { getVia, uniqueName, waitFor } from "../test/support/services.js";
import { httpStatus } from "../releaser/health-check.js";
import { platformMemory } from "./platform-memory.js";

/**
 * Push-to-live overhead against a raw `docker build` + `docker run` + first 200 of the same app,
 * webhook answer time, failed requests during redeploys under load, and idle memory of the platform.
 * Prints figures; run with `npm run bench`.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
let h: Harness;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;

beforeAll(async () => {
  h = await startHarness({ LOG_LEVEL: "warn" }, Number(process.env.BENCH_REDIS_DB ?? 10));
});
afterAll(async () => {
  await h?.stop();
});

/** The raw baseline's phases, ms: the same app by hand. */
interface RawPhases {
  build: number;
  start: number;
  healthy: number;
  total: number;
}

/**
 * berth's phases of one deployment as intervals (ms), named for the raw step each compares with
 * where there is one; from GET /api/v1/apps/{app}/deployments/{id}.
 */
const SEGMENTS: { name: string; from: string; to: string; raw?: keyof RawPhases }[] = [
  { name: "webhook → queued", from: "received", to: "queued" },
  { name: "build job pickup", from: "queued", to: "fetch_started" },
  { name: "git fetch", from: "fetch_started", to: "fetch_done" },
  { name: "plan (manifest, checks)", from: "fetch_done", to: "build_started" },
  { name: "image build", from: "build_started", to: "build_done", raw: "build" },
  { name: "release job pickup", from: "build_done", to: "image_ready" },
  { name: "create + start container", from: "image_ready", to: "container_started", raw: "start" },
  { name: "health (first 200 direct)", from: "container_started", to: "healthy", raw: "healthy" },
  { name: "route switch (proxy reload)", from: "healthy", to: "route_switched" },
  { name: "first served via proxy", from: "route_switched", to: "first_served" },
  { name: "push → first served", from: "received", to: "first_served", raw: "total" },
];

async function berthPhases(id: number): Promise<Record<string, number>> {
  const res = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments/${id}`, { headers: { authorization: "Bearer e2e-admin-token" } });
  const row = (await res.json()) as { phases: { phase: string; at: string }[] };
  return Object.fromEntries(row.phases.map((p) => [p.phase, Date.parse(p.at)]));
}

async function latestDeploymentId(sha: string): Promise<number> {
  const res = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments?limit=5`, { headers: { authorization: "Bearer e2e-admin-token" } });
  const rows = (await res.json()) as { id: number; sha: string }[];
  return rows.find((r) => r.sha === sha)?.id ?? NaN;
}

async function rawDeploy(body: string): Promise<RawPhases> {
  const dir = mkdtempSync(join(tmpdir(), "berth-raw-"));
  const tag = `berth-bench-raw:${uniqueName("")}`;
  const name = uniqueName("berth-bench-raw-");
  for (const [f, c] of Object.entries(staticSite(body))) writeFileSync(join(dir, f), c);
  const start = performance.now();
  execFileSync("docker", ["build", "-q", "-t", tag, dir], { env: { ...process.env, DOCKER_BUILDKIT: "0" }, stdio: "pipe" });
  const built = performance.now();
  execFileSync("docker", ["run", "-d", "--init", "--name", name, tag], { stdio: "pipe" });
  const started = performance.now();
  const ip = execFileSync("docker", ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name], { encoding: "utf8" }).trim();
  await waitFor("raw 200", async () => (await httpStatus(ip, 8080, "/", 1000)) === 200, 30_000, 20);
  const end = performance.now();
  const ms: RawPhases = { build: built - start, start: started - built, healthy: end - started, total: end - start };
  execFileSync("docker", ["rm", "-f", name], { stdio: "pipe" });
  execFileSync("docker", ["rmi", "-f", tag], { stdio: "pipe" });
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

it("measures push-to-live against raw docker, webhook answers and drops under load", async () => {
  const raw: number[] = [];
  const rawPhases: RawPhases[] = [];
  const berthTimed: Record<string, number>[] = [];
  const berth: number[] = [];
  const answers: number[] = [];
  // First release outside the measurement: it creates the proxy and network once.
  let before = h.repo.head;
  const first = h.repo.commit(staticSite("warm-up\n"), "warm-up");
  await h.push(first, before);
  await waitFor("warm-up live", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === "warm-up\n", 120_000, 50);

  const poll = startPoller(h.ingressPort, h.host);
  for (let i = 0; i < ROUNDS; i++) {
    const r = await rawDeploy(`raw ${i} ${Date.now()}\n`);
    rawPhases.push(r);
    raw.push(r.total);
    const body = `berth ${i} ${Date.now()}\n`;
    before = h.repo.head;
    const sha = h.repo.commit(staticSite(body), `round ${i}`);
    const start = performance.now();
    const delivery = await h.push(sha, before);
    answers.push(delivery.ms);
    await waitFor("new version live", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 120_000, 20);
    berth.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, 1500)); // let the old release drain before the next round
    berthTimed.push(await berthPhases(await latestDeploymentId(sha)));
  }
  const stats = await poll.stop();

  const mem = await platformMemory(h);
  const lines = [
    `push-to-live (webhook → first 200 of the new version), median of ${ROUNDS}: ${fmt(median(berth))}  [${berth.map(fmt).join(" ")}]`,
    `raw docker build + run + first 200, median of ${ROUNDS}:            ${fmt(median(raw))}  [${raw.map(fmt).join(" ")}]`,
    `overhead ratio berth/raw: ${(median(berth) / median(raw)).toFixed(2)}x`,
    `webhook answer time: median ${median(answers).toFixed(1)}ms, max ${Math.max(...answers).toFixed(1)}ms`,
    `requests during ${ROUNDS} redeploys under load: ${stats.ok} ok, ${stats.failures} failed (${stats.retried} resent after a keep-alive close race)`,
    `idle memory: berth ${mem.berth}MB, postgres ${mem.postgres}MB, redis ${mem.redis}MB, proxy ${mem.proxy}MB; total ${mem.total}MB (limit 300MB: ${(mem.total / 300).toFixed(2)} of it)`,
  ];
  console.log(`\n${lines.join("\n")}\n\n${phaseTable(berthTimed, rawPhases)}\n`);
  expect(stats.failures, stats.errors.slice(0, 5).join("\n")).toBe(0);
});

/** Per-phase medians of a redeploy under load, berth beside the raw step it compares with, and their ratio. */
function phaseTable(timed: Record<string, number>[], rawRuns: RawPhases[]): string {
  const ms = (x: number): string => (Number.isNaN(x) ? "-" : `${Math.round(x)}ms`).padStart(8);
  const rows = SEGMENTS.map((s) => {
    const b = median(timed.map((t) => (t[s.to] ?? NaN) - (t[s.from] ?? NaN)).filter((x) => !Number.isNaN(x)));
    const r = s.raw ? median(rawRuns.map((x) => x[s.raw!])) : NaN;
    return `${s.name.padEnd(30)}${ms(b)}${ms(r)}${Number.isNaN(r) ? "" : `  ${(b / r).toFixed(2)}x`.padStart(9)}`;
  });
  return [`per-phase median of ${timed.length} redeploys under load (berth, raw, berth/raw):`, ...rows].join("\n");
}
