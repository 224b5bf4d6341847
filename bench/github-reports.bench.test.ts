import { afterEach, expect, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../test/support/harness.js";
import { waitFor } from "../test/support/services.js";

/**
 * GitHub report lag under a burst: N pull requests opened at once in one installation, each built and
 * released; for each, the time from berth recording the deployment live (finishedAt) to the `success`
 * check run on the fake GitHub. Also prints how many writes reached GitHub and how far apart they came
 * (Probot's throttling spaces an installation's writes ~1 s apart when it is on).
 */
const N = Number(process.env.BENCH_REPORTS_N ?? 20);
let h: Harness | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});

type Row = { sha: string; state: string; finishedAt: string };
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

it(`${N} concurrent pull requests: live → success check run`, async () => {
  h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILD_CONCURRENCY: "4", BERTH_APP_BUILD_CONCURRENCY: "4", BERTH_KEEP_IMAGES: "100" }, 2);
  const harness = h;
  harness.repo.commit(staticSite("base\n"), "base");
  const shas = Array.from({ length: N }, (_, i) => harness.repo.commitToPull(i + 1, staticSite(`pr ${i + 1} ${Date.now()}\n`)));
  const begun = Date.now();
  await Promise.all(shas.map((sha, i) => harness.pull({ action: "opened", number: i + 1, head: sha })));
  for (const sha of shas) {
    await waitFor(`outcome of ${sha.slice(0, 7)}`, () => harness.github.checkRunsFor(sha).find((c) => c.status === "completed"), 480_000, 100);
  }
  const rows = ((await (await fetch(`${harness.berth.url}/api/v1/apps/${harness.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Row[]).filter((r) => shas.includes(r.sha));
  expect(rows).toHaveLength(N);
  const live = rows.filter((r) => r.state === "live");
  const lags = live.map((r) => (harness.github.checkRunsFor(r.sha).find((c) => c.conclusion === "success")!.concludedAt! - Date.parse(r.finishedAt)) / 1000);
  const writes = harness.github.requests.filter((r) => r.method !== "GET" && r.path.startsWith("/api/v3/repos/") && r.at >= begun);
  const gaps = writes.slice(1).map((r, i) => r.at - writes[i]!.at);
  console.log(
    `\nN=${N} (${live.length} live): live → success check run p50 ${pct(lags, 0.5).toFixed(2)}s, max ${Math.max(...lags).toFixed(2)}s; ` +
      `${writes.length} GitHub writes, gap between writes p50 ${pct(gaps, 0.5)}ms, min ${Math.min(...gaps)}ms\n`,
  );
});
