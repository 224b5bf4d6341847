import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { startPrivateRedis, type PrivateRedis } from "../support/private-services.js";
import { getVia, waitFor } from "../support/services.js";

/**
 * The webhook inbox end to end: GitHub's answer needs only the delivery's line in berth's journal, so
 * pushes are accepted while Redis is down, survive a kill -9 before any work started, and of several
 * pushes to one branch that waited, only the newest is worked on. Redis is this file's own.
 */
describe("webhook inbox: answered once recorded, worked off after", () => {
  let h: Harness;
  let redis: PrivateRedis;
  let db: pg.Client;

  const completed = (sha: string) => waitFor(`check run on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 100);
  const served = (body: string) => waitFor(`${body.trim()} served`, async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 60_000, 50);
  const outcomes = async (ids: string[]) =>
    (await db.query<{ delivery_id: string; outcome: string | null }>("select delivery_id, outcome from webhook_deliveries where delivery_id = any($1) order by id", [ids])).rows.map((r) => r.outcome);
  const push = async (body: string) => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite(body), body.trim());
    const d = await h.push(sha, before);
    expect(d.status).toBe(200);
    return { sha, delivery: d.id };
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
    h = await startHarness({ REDIS_URL: redis.url, BERTH_RECONCILE_INTERVAL: "2" });
    db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await h?.stop();
    await redis?.destroy();
  });

  it("accepts a push while Redis is down and builds it after berth is killed and Redis is back", async () => {
    await redis.stop();
    const { sha, delivery } = await push("accepted while redis was down\n");
    await waitFor("recorded", async () => (await outcomes([delivery])).length === 1, 10_000, 20);
    expect(await outcomes([delivery])).toEqual([null]); // recorded, not worked off yet
    await h.kill();
    await redis.start();
    await h.relaunch();
    expect((await completed(sha)).conclusion).toBe("success");
    await served("accepted while redis was down\n");
    // "duplicate" when the first attempt had recorded the deployment before Redis held it up: the
    // second attempt, after the restart, finds it and dispatches it.
    await waitFor("delivery processed", async () => /^(queued|duplicate)$/.test((await outcomes([delivery]))[0] ?? ""), 10_000);
    expect((await db.query("select id from deployments where delivery_id = $1", [delivery])).rowCount).toBe(1);
  });

  it("works only on the newest of pushes to one branch that waited, and starts nothing for the others", async () => {
    await redis.stop();
    // The first is taken up at once and waits on Redis; the three after it wait in the inbox.
    const pushes: { sha: string; delivery: string }[] = [];
    for (const n of [1, 2, 3, 4]) pushes.push(await push(`waiting push ${n}\n`));
    await redis.start();
    const newest = pushes.at(-1)!;
    expect((await completed(newest.sha)).conclusion).toBe("success");
    await served("waiting push 4\n");
    await waitFor("deliveries processed", async () => !(await outcomes(pushes.map((p) => p.delivery))).includes(null), 10_000);
    const [first, ...rest] = await outcomes(pushes.map((p) => p.delivery));
    expect(first).toBe("queued");
    expect(rest).toEqual([`superseded by ${newest.delivery}`, `superseded by ${newest.delivery}`, "queued"]);
    for (const p of pushes.slice(1, 3)) {
      expect(h.github.checkRunsFor(p.sha)).toEqual([]); // never started: no check run, no deployment
      expect((await db.query("select id from deployments where sha = $1", [p.sha])).rowCount).toBe(0);
    }
    expect((await completed(pushes[0]!.sha)).conclusion).toBe("cancelled");
  });

  it("asks GitHub again, once it runs, for a push GitHub could not deliver while berth was stopped", async () => {
    await h.berth.stop();
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite("pushed while berth was stopped\n"), "pushed while stopped");
    await expect(h.push(sha, before)).rejects.toThrow(); // GitHub could not connect, and lists the delivery as failed
    await h.relaunch();
    expect((await completed(sha)).conclusion).toBe("success");
    await served("pushed while berth was stopped\n");
    expect(h.berth.output()).toContain("asked GitHub to redeliver webhooks that failed or were lost while berth was unhealthy or down");
  });
});
