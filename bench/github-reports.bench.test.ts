import pg from "pg";
import { afterEach, expect, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { startHarness, type Harness } from "../test/support/harness.js";
import { waitFor } from "../test/support/services.js";

/**
 * GitHub report lag under a burst: N pull requests opened at once in one installation, each built and
 * released; for each, the time from first served (berth's own probe through the proxy) to the `success`
 * check run and to the Deployment's `success` status on the fake GitHub, and the least lags GitHub's
 * secondary limit allows for the same first-served times (budgetFloor). Also prints how many writes reached GitHub by then and once the outbox
 * was empty, per deployment, and how far apart they came (GitHub asks for writes ~1 s apart per installation).
 */
const N = Number(process.env.BENCH_REPORTS_N ?? 20);
let h: Harness | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/**
 * The least lags GitHub's documented secondary limit allows these first-served times: a bucket of 20
 * writes refilled at one a second (80 in any minute) from the moment the pushes arrived. Each deployment
 * has its outcome writes, made at first served in the order first served (a deployment's in the order
 * given), and before each some writes that may be made ahead at any time (creating its Deployment).
 * Each outcome's bound counts the writes that must come before it: since the pushes (those made ahead
 * included), and since each earlier first served (outcomes only; the bucket holds at most 20 then).
 * No schedule within the limit that reports these outcomes in this order does better.
 */
function budgetFloor<K extends string>(served: number[], begun: number, outcomes: { kind: K; ahead: number }[], burst = 20, refillMs = 1_000): Record<K, number[]> {
  const s = [...served].sort((a, b) => a - b);
  const lags = Object.fromEntries(outcomes.map((o) => [o.kind, [] as number[]])) as Record<K, number[]>;
  const aheadEach = outcomes.reduce((n, o) => n + o.ahead, 0);
  let previous = -Infinity;
  for (const [k, at] of s.entries()) {
    let ahead = k * aheadEach;
    for (const [i, o] of outcomes.entries()) {
      ahead += o.ahead;
      const m = k * outcomes.length + i + 1; // this outcome write's place among all of them
      let t = Math.max(at, previous, begun + (m + ahead - burst) * refillMs);
      for (let j = 0; j <= k; j++) t = Math.max(t, s[j]! + (m - j * outcomes.length - burst) * refillMs);
      previous = t;
      lags[o.kind].push(t - at);
    }
  }
  return lags;
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const ratio = (measuredS: number[], leastMs: number[], p: number): string => (pct(measuredS, p) / (pct(leastMs, p) / 1000)).toFixed(2);
const seconds = (ms: number[]): string => `p50 ${(pct(ms, 0.5) / 1000).toFixed(2)}s, p90 ${(pct(ms, 0.9) / 1000).toFixed(2)}s, max ${(Math.max(...ms) / 1000).toFixed(2)}s`;

it(`${N} concurrent pull requests: first served → success check run`, async () => {
  h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILD_CONCURRENCY: "4", BERTH_APP_BUILD_CONCURRENCY: "4", BERTH_KEEP_IMAGES: "100" }, Number(process.env.BENCH_REDIS_DB ?? 2));
  const harness = h;
  harness.repo.commit(staticSite("base\n"), "base");
  const shas = Array.from({ length: N }, (_, i) => harness.repo.commitToPull(i + 1, staticSite(`pr ${i + 1} ${Date.now()}\n`)));
  const begun = Date.now();
  await Promise.all(shas.map((sha, i) => harness.pull({ action: "opened", number: i + 1, head: sha })));
  for (const sha of shas) {
    await waitFor(`outcome of ${sha.slice(0, 7)}`, () => harness.github.checkRunsFor(sha).find((c) => c.status === "completed"), 480_000, 100);
  }
  const isWrite = (r: { method: string; path: string; at: number }): boolean => r.method !== "GET" && r.path.startsWith("/api/v3/repos/") && r.at >= begun;
  const writesByOutcome = harness.github.requests.filter(isWrite);
  const db = new pg.Client({ connectionString: harness.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ sha: string; state: string; served: string | null; finished: Date }>(
      "select sha, state, phases->>'first_served' as served, finished_at as finished from deployments where sha = any($1)",
      [shas],
    );
    expect(rows).toHaveLength(N);
    const live = rows.filter((r) => r.state === "live");
    for (const r of rows.filter((x) => x.state !== "live")) {
      const run = harness.github.checkRunsFor(r.sha).find((c) => c.status === "completed");
      console.log(`not live: ${r.sha.slice(0, 7)} ${r.state}: ${run?.conclusion} ${JSON.stringify(run?.output?.title ?? "")}`);
    }
    const lags = live.map((r) => (harness.github.checkRunsFor(r.sha).find((c) => c.conclusion === "success")!.concludedAt! - Number(r.served ?? r.finished.getTime())) / 1000);
    const served = live.map((r) => Number(r.served ?? r.finished.getTime()));
    // What a fixed second between writes (Octokit's throttling, and berth before its token bucket) would
    // allow at best: the k-th outcome (by first served) no earlier than a second after the one before.
    const floor: number[] = [];
    let slot = -Infinity;
    for (const at of [...served].sort((x, y) => x - y)) {
      slot = Math.max(at, slot + 1000);
      floor.push(slot - at);
    }
    await waitFor("the outbox drained", async () => Number((await db.query<{ n: string }>("select count(*) as n from github_reports")).rows[0]?.n) === 0, 300_000, 250);
    // The PR's "View deployment": the Deployment's success status.
    const deployLags = live.map((r) => {
      const ok = harness.github.deploymentsFor(r.sha).flatMap((d) => d.statuses).find((st) => st.state === "success");
      return ok?.at ? (ok.at - Number(r.served ?? r.finished.getTime())) / 1000 : NaN;
    });
    const writes = harness.github.requests.filter(isWrite);
    const gaps = writes.slice(1).map((r, i) => r.at - writes[i]!.at);
    // GitHub's documented secondary limit: 80 content-creating requests a minute per installation.
    const most = (ms: number): number => Math.max(...writes.map((w0) => writes.filter((w) => w.at >= w0.at && w.at < w0.at + ms).length));
    const perMinute = most(60_000);
    // What berth does: both outcomes of a deployment, deployments in the order first served; and each outcome alone, had it gone before the other.
    const budget = budgetFloor(served, begun, [{ kind: "check", ahead: 0 }, { kind: "status", ahead: 1 }]);
    const checkAlone = budgetFloor(served, begun, [{ kind: "check", ahead: 0 }]).check;
    const statusAlone = budgetFloor(served, begun, [{ kind: "status", ahead: 1 }]).status;
    const kinds = new Map<string, number>();
    for (const w of writes) {
      const k = `${w.method} ${w.path.replace(/^\/api\/v3\/repos\/[^/]+\/[^/]+/, "").replace(/\d+/g, "N")}`;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    if (process.env.BENCH_REPORTS_TRACE) {
      // Every write and every first served, in time order: where an outcome waited, and behind what.
      const shaOf = new Map(live.map((r) => [Number(r.served ?? r.finished.getTime()), r.sha.slice(0, 7)]));
      const events = [...writes.map((w) => ({ at: w.at, what: `${w.method} ${w.path.replace(/^\/api\/v3\/repos\/[^/]+\/[^/]+/, "")}` })), ...[...shaOf].map(([at, sha]) => ({ at, what: `  first served ${sha}` })),
        ...live.map((r) => ({ at: harness.github.checkRunsFor(r.sha).find((c) => c.conclusion === "success")!.concludedAt! + 0.5, what: `    ^ success ${r.sha.slice(0, 7)}` })),
        ...live.map((r) => ({ at: r.finished.getTime(), what: `  recorded live ${r.sha.slice(0, 7)}` }))];
      events.sort((x, y) => x.at - y.at);
      console.log(events.map((e) => `${((e.at - begun) / 1000).toFixed(2)} ${e.what}`).join("\n"));
    }
    console.log(
      `\nN=${N} (${live.length} live; first served spread over ${((Math.max(...served) - Math.min(...served)) / 1000).toFixed(1)}s): ` +
        `first served → success check run p50 ${pct(lags, 0.5).toFixed(2)}s, p90 ${pct(lags, 0.9).toFixed(2)}s, max ${Math.max(...lags).toFixed(2)}s\n` +
        `first served → Deployment success status p50 ${pct(deployLags, 0.5).toFixed(2)}s, p90 ${pct(deployLags, 0.9).toFixed(2)}s, max ${Math.max(...deployLags).toFixed(2)}s\n` +
        `  best possible at a fixed second between writes, for these first-served times (outcome writes only): p50 ${(pct(floor, 0.5) / 1000).toFixed(2)}s, p90 ${(pct(floor, 0.9) / 1000).toFixed(2)}s, max ${(Math.max(...floor) / 1000).toFixed(2)}s\n` +
        `  least possible within GitHub's 80 a minute (a bucket of 20, a token a second), for these first-served times:\n` +
        `    both outcomes of each deployment, in the order first served (3 writes each, its Deployment created ahead): ` +
        `check run ${seconds(budget.check)}, Deployment status ${seconds(budget.status)}; ` +
        `measured ÷ least: check run p90 ${ratio(lags, budget.check, 0.9)}, max ${ratio(lags, budget.check, 1)}, Deployment status p90 ${ratio(deployLags, budget.status, 0.9)}, max ${ratio(deployLags, budget.status, 1)}\n` +
        `    one outcome alone, before all other writes: check run (1 write each) ${seconds(checkAlone)}, Deployment status (2 writes each) ${seconds(statusAlone)}\n` +
        `GitHub writes: ${writesByOutcome.length} until the last outcome, ${writes.length} in all = ${(writes.length / N).toFixed(2)} per deployment; ` +
        `gap between writes p50 ${pct(gaps, 0.5)}ms, min ${Math.min(...gaps)}ms; most in any minute ${perMinute} (GitHub's limit: 80), in any hour ${most(3_600_000)} (500)\n` +
        [...kinds].map(([k, n]) => `  ${k}: ${n}`).join("\n") + "\n",
    );
  } finally {
    await db.end();
  }
});
