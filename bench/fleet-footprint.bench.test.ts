import { afterAll, beforeAll, expect, it } from "vitest";
import { staticSite, TestRepo } from "../test/support/git-repo.js";
import { startHarness, WEBHOOK_SECRET, type Harness } from "../test/support/harness.js";
import { getVia, waitFor } from "../test/support/services.js";
import { deliver, pushPayload } from "../test/support/webhooks.js";
import { platformMemory } from "./platform-memory.js";

/**
 * The platform's footprint with work on it: APPS apps live in production and PREVIEWS pull request
 * previews live, then idle. Prints the proportional set sizes of berth, Postgres, Redis and the proxy
 * against an idle, empty berth measured first in the same run.
 */
const APPS = Number(process.env.BENCH_APPS ?? 20);
const PREVIEWS = Number(process.env.BENCH_PREVIEWS ?? 20);
let h: Harness;
const repos: TestRepo[] = [];

beforeAll(async () => {
  // BENCH_NODE_OPTIONS: V8 flags for berth's process only, to compare (e.g. --max-semi-space-size=2).
  const nodeOptions: Record<string, string> = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {};
  h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILD_CONCURRENCY: "2", ...nodeOptions }, Number(process.env.BENCH_REDIS_DB ?? 10));
}, 180_000);
afterAll(async () => {
  for (const r of repos) r.cleanup();
  await h?.stop();
});

const line = (m: Awaited<ReturnType<typeof platformMemory>>): string =>
  `berth ${m.berth}MB, postgres ${m.postgres}MB, redis ${m.redis}MB, proxy ${m.proxy}MB; total ${m.total}MB (${(m.total / 300).toFixed(2)} of the 300MB limit, ${(m.total / 160).toFixed(2)} of the 160MB goal)`;

it(`measures the platform's memory with ${APPS} apps and ${PREVIEWS} previews live`, async () => {
  const empty = await platformMemory(h);
  const started = performance.now();
  const hosts: [string, string][] = [];
  for (let i = 0; i < APPS; i++) {
    const name = `${h.app}-a${i}`;
    const repo = new TestRepo(h.github.gitRoot, "octo-org", name);
    repos.push(repo);
    const sha = repo.commit(staticSite(`${name}\n`), "live");
    const facts = { ...h.facts, name, id: 60_000 + i, cloneUrl: h.github.cloneUrl("octo-org", name) };
    expect((await deliver(h.hookUrl, "push", pushPayload(facts, "0".repeat(40), sha), WEBHOOK_SECRET)).status).toBe(200);
    hosts.push([`${name}.localhost`, `${name}\n`]);
  }
  h.repo.commit(staticSite("base\n"), "base");
  for (let n = 1; n <= PREVIEWS; n++) {
    const sha = h.repo.commitToPull(n, staticSite(`preview ${n}\n`));
    expect((await h.pull({ action: "opened", number: n, head: sha })).status).toBe(200);
    hosts.push([`${h.app}-pr-${n}.localhost`, `preview ${n}\n`]);
  }
  for (const [host, body] of hosts) await waitFor(`${host} served`, async () => (await getVia(h.ingressPort, host).catch(() => undefined))?.body === body, 600_000, 200);
  const liveAfter = performance.now() - started;
  await new Promise((r) => setTimeout(r, 10_000)); // idle: builds done, reports sent, drains over
  const loaded = await platformMemory(h);
  console.log(
    [
      "",
      `empty and idle:                                ${line(empty)}`,
      `${APPS} apps + ${PREVIEWS} previews live (all served after ${(liveAfter / 1000).toFixed(0)}s), idle: ${line(loaded)}`,
      "",
    ].join("\n"),
  );
  expect(loaded.total).toBeGreaterThan(0);
}, 1_200_000);
