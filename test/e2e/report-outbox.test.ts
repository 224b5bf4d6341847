import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { waitFor } from "../support/services.js";

const N = 10;

describe("GitHub reports survive a restart, end to end", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, 2);
  });
  afterAll(async () => {
    await h?.stop();
  });

  const newest = (sha: string) => h.github.checkRunsFor(sha).at(-1);

  it("exits within 10 s of SIGTERM with reports still unsent, and sends them after starting again on the same database", async () => {
    let before = h.repo.head;
    const base = h.repo.commit({ ...staticSite("base\n"), "berth.yaml": 'build: { watch: ["index.html"] }\n' }, "watch index.html only");
    // A GitHub this slow turns a handful of reports into a backlog.
    h.github.writeDelayMs = 4_000;
    await h.push(base, before, { changed: ["berth.yaml"] });
    const shas: string[] = [];
    for (let i = 0; i < N; i++) {
      before = h.repo.head;
      const sha = h.repo.commit({ [`docs/${i}.md`]: `docs ${i}\n` }, `docs ${i}`);
      expect((await h.push(sha, before, { changed: [`docs/${i}.md`] })).status).toBe(200);
      shas.push(sha);
    }
    await waitFor("reports on their way to GitHub", () => h.github.requests.some((r) => r.method === "POST" && r.path.endsWith("/check-runs")), 30_000, 50);
    // Every delivery worked off (a deployment recorded for each push, with its reports): a delivery
    // still waiting in the inbox at the stop would be superseded by a newer push after the restart.
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    try {
      await waitFor("a deployment for each push", async () => Number((await db.query<{ n: string }>("select count(*) as n from deployments where sha = any($1)", [shas])).rows[0]?.n) === N, 60_000, 100);
    } finally {
      await db.end();
    }
    await new Promise((r) => setTimeout(r, 500)); // and their reports recorded

    const stopping = Date.now();
    await h.berth.stop();
    const took = Date.now() - stopping;
    expect(h.berth.child.signalCode, h.berth.output().slice(-2000)).toBeNull(); // exited by itself, not SIGKILLed
    expect(took).toBeLessThan(10_000);
    const done = shas.filter((sha) => newest(sha)?.status === "completed").length;
    expect(done).toBeLessThan(N); // there was a backlog to leave behind

    h.github.writeDelayMs = 0;
    await h.restart();
    for (const sha of shas) {
      const run = await waitFor(`check run of ${sha.slice(0, 7)} completed`, () => (newest(sha)?.status === "completed" ? newest(sha) : undefined), 60_000, 100);
      expect(["skipped", "cancelled"]).toContain(run.conclusion);
    }
    console.log(`SIGTERM → exit ${took} ms; ${done}/${N} check runs complete before, all ${N} after the restart`);
  });
});
