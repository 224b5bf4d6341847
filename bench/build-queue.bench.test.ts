import { afterEach, expect, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../test/support/harness.js";
import { waitFor } from "../test/support/services.js";

/**
 * Queue wait with N concurrent pushes at build concurrency K: opens N pull requests at once, each a
 * build with a 1 s step, and reads from berth's API when each deployment was recorded, started building
 * and was built. Ideal makespan = ceil(N/K) × the mean build time.
 */
const N = Number(process.env.BENCH_QUEUE_N ?? 8);
const KS = (process.env.BENCH_QUEUE_K ?? "1,2,4").split(",").map(Number);
let h: Harness | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});

type Row = { id: number; environment: string; sha: string; createdAt: string; startedAt: string; builtAt: string };

for (const K of KS) {
  it(`${N} concurrent pushes at build concurrency ${K}`, async () => {
    h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILD_CONCURRENCY: String(K), BERTH_APP_BUILD_CONCURRENCY: String(K) }, 11);
    const harness = h;
    harness.repo.commit(staticSite("base\n"), "base");
    const shas = Array.from({ length: N }, (_, i) => {
      const site = staticSite(`pr ${i + 1}\n`);
      return harness.repo.commitToPull(i + 1, { ...site, Dockerfile: site.Dockerfile!.replace("\nCOPY", `\nRUN sleep 1 && echo ${K}-${i}-${Date.now()}\nCOPY`) });
    });
    await Promise.all(shas.map((sha, i) => harness.pull({ action: "opened", number: i + 1, head: sha })));
    for (const sha of shas) {
      await waitFor(`build of ${sha.slice(0, 7)}`, () => harness.github.checkRunsFor(sha).find((c) => c.status === "completed"), 300_000, 100);
    }
    const rows = ((await (await fetch(`${harness.berth.url}/api/v1/apps/${harness.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Row[]).filter((r) => shas.includes(r.sha));
    expect(rows).toHaveLength(N);
    const t = (s: string) => Date.parse(s);
    const waits = rows.map((r) => (t(r.startedAt) - t(r.createdAt)) / 1000).sort((a, b) => a - b);
    const builds = rows.map((r) => (t(r.builtAt) - t(r.startedAt)) / 1000);
    const meanBuild = builds.reduce((a, b) => a + b, 0) / N;
    const makespan = (Math.max(...rows.map((r) => t(r.builtAt))) - Math.min(...rows.map((r) => t(r.createdAt)))) / 1000;
    const ideal = Math.ceil(N / K) * meanBuild;
    // Push order is the order berth recorded the deliveries (ids); created_at is each transaction's start.
    const byCreated = [...rows].sort((a, b) => a.id - b.id).map((r) => r.sha);
    const byStarted = [...rows].sort((a, b) => t(a.startedAt) - t(b.startedAt)).map((r) => r.sha);
    const outOfOrder = byStarted.filter((sha, i) => byCreated[i] !== sha).length;
    console.log(
      `\nN=${N} K=${K}: queue wait mean ${(waits.reduce((a, b) => a + b, 0) / N).toFixed(2)}s, median ${waits[Math.floor(N / 2)]!.toFixed(2)}s, max ${waits.at(-1)!.toFixed(2)}s; ` +
        `build ${meanBuild.toFixed(2)}s mean; all built in ${makespan.toFixed(2)}s vs ideal ${ideal.toFixed(2)}s (×${(makespan / ideal).toFixed(2)}); started out of push order: ${outOfOrder}\n`,
    );
  });
}
