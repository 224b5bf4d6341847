import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pgClient from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lockKeys } from "../../store/locks.js";
import { containersOf } from "../support/docker-cleanup.js";
import { slowSite, staticSite } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { apiDeployments, completedCheck as checkOf } from "../support/harness-queries.js";
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from "../support/private-services.js";
import { getVia, waitFor } from "../support/services.js";

/**
 * Level-triggered recovery: berth killed with SIGKILL, its Redis restarted or wiped, its Postgres
 * restarted. Everything runs against a Postgres cluster and a redis-server of this file's own, never
 * the machine's shared ones. Outcomes are asserted where users see them: GitHub and the ingress.
 */
describe("chaos: nothing lost, nothing stuck", () => {
  let h: Harness;
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  const RECONCILE_SECONDS = 2;

  const deployments = () => apiDeployments(h);
  const completedCheck = (sha: string, timeoutMs?: number) => checkOf(h, sha, timeoutMs);
  const deploy = async (body: string) => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite(body), body.trim());
    expect((await h.push(sha, before)).status).toBe(200);
    expect((await completedCheck(sha)).conclusion).toBe("success");
    await waitFor(`${body.trim()} served`, async () => (await getVia(h.ingressPort, h.host)).body === body, 30_000);
  };
  const webShas = async () => (await containersOf(h.app)).filter((c) => c.Labels["berth.role"] === "web" && c.State === "running").map((c) => c.Labels["berth.sha"]);

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    h = await startHarness({ DATABASE_URL: pg.url, REDIS_URL: redis.url, BERTH_RECONCILE_INTERVAL: String(RECONCILE_SECONDS), BERTH_DRAIN_SECONDS: "4", BERTH_WEBHOOK_BACKLOG_MB: "1" });
  }, 120_000);

  afterEach((ctx) => {
    // A failed chaos test is read from berth's own log (in $TMPDIR/berth-chaos.log): what it saw and did.
    if (ctx.task.result?.state === "fail" || process.env.CHAOS_LOG) writeFileSync(join(tmpdir(), "berth-chaos.log"), h?.berth.output() ?? "");
  });

  afterAll(async () => {
    await h?.stop();
    await Promise.all([pg?.destroy(), redis?.destroy()]);
  });

  it("takes a build back within 10 s of berth starting again after kill -9 mid-build, and the check run completes", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(slowSite("survived kill -9 mid-build\n", 6), "slow build");
    expect((await h.push(sha, before)).status).toBe(200);
    await waitFor("build running", async () => (await deployments()).find((d) => d.sha === sha)?.state === "building", 30_000);
    await waitFor("source fetched", () => h.github.gitAuth.length > 0, 30_000, 50);
    await new Promise((r) => setTimeout(r, 1500)); // into the slow step
    await h.kill();
    const killedAt = Date.now();
    const fetchesBefore = h.github.gitAuth.length;
    await h.relaunch();
    const upAt = Date.now();
    // The build starts over by fetching its source again: that is the moment it was taken back.
    await waitFor("the build taken back", () => h.github.gitAuth.length > fetchesBefore, 30_000, 50);
    const resumedAt = Date.now();
    console.log(`kill -9 mid-build: berth up ${upAt - killedAt} ms after the kill, build taken back ${resumedAt - upAt} ms after that (${resumedAt - killedAt} ms after the kill)`);
    expect(resumedAt - upAt).toBeLessThan(10_000);
    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(h.github.checkRunsFor(sha).every((c) => c.status === "completed")).toBe(true);
    await waitFor("served", async () => (await getVia(h.ingressPort, h.host)).body === "survived kill -9 mid-build\n", 30_000);
    // The concluded check run goes first; the Deployment's final status follows on a later turn.
    const statuses = await waitFor("Deployment success", () => {
      const last = h.github.deploymentsFor(sha).map((d) => d.statuses.at(-1)?.state);
      return last.includes("success") ? last : undefined;
    });
    expect(statuses.filter((s) => s === "in_progress")).toEqual([]);
  }, 180_000);

  it("runs a queued build after Redis restarts (AOF) under it", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(slowSite("survived a Redis restart\n", 3), "build across a Redis restart");
    expect((await h.push(sha, before)).status).toBe(200);
    await redis.restart();
    const restartedAt = Date.now();
    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor("served", async () => (await getVia(h.ingressPort, h.host)).body === "survived a Redis restart\n", 30_000);
    console.log(`Redis restarted mid-queue: deployed ${Date.now() - restartedAt} ms after the restart`);
    expect(h.berth.child.exitCode).toBeNull();
    expect(h.berth.output()).not.toContain("Unhandled error event"); // every ioredis client has an error listener
  }, 180_000);

  it("queues again a build Postgres says is running after Redis lost everything (FLUSHALL)", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(slowSite("survived FLUSHALL\n", 6), "build across FLUSHALL");
    expect((await h.push(sha, before)).status).toBe(200);
    await waitFor("build running", async () => (await deployments()).find((d) => d.sha === sha)?.state === "building", 30_000);
    // berth dies with the build and Redis forgets its job: only Postgres still knows it is building.
    await h.kill();
    redis.flushall();
    const fetches = h.github.gitAuth.length;
    const wipedAt = Date.now();
    await h.relaunch();
    await waitFor("the build queued again by the sweeper", () => h.github.gitAuth.length > fetches, 90_000, 100);
    console.log(`FLUSHALL mid-build (BERTH_RECONCILE_INTERVAL=${RECONCILE_SECONDS}): build queued again and started ${Date.now() - wipedAt} ms after the wipe`);
    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor("served", async () => (await getVia(h.ingressPort, h.host)).body === "survived FLUSHALL\n", 30_000);
  }, 180_000);

  for (const when of ["before the switch", "after the switch"] as const) {
    it(`converges to exactly one live release after kill -9 ${when}, and its check run completes`, async () => {
      await deploy(`the release before the one killed ${when}\n`); // something to switch away from and drain
      const before = h.repo.head;
      const body = `released through kill -9 ${when}\n`;
      // Before the switch: a release command that takes seconds holds the release there (a static site alone switches too fast to hit).
      const files = when === "before the switch" ? { ...staticSite(body), "berth.yaml": 'release: ["sh", "-c", "sleep 4"]\n' } : staticSite(body);
      const sha = h.repo.commit(files, `release ${when}`);
      expect((await h.push(sha, before)).status).toBe(200);
      if (when === "before the switch") {
        await waitFor("release started", async () => (await deployments()).find((d) => d.sha === sha)?.state === "releasing", 60_000, 50);
        await new Promise((r) => setTimeout(r, 1000)); // into the release command
      } else {
        // Served, and the old release draining (BERTH_DRAIN_SECONDS=4): the switch is done, the release is not.
        await waitFor("new version served", async () => (await getVia(h.ingressPort, h.host)).body === body, 60_000, 50);
      }
      await h.kill();
      const killedAt = Date.now();
      await h.relaunch();
      const upAt = Date.now();
      await waitFor("exactly one live release, serving the new version", async () => {
        const shas = await webShas();
        return shas.length === 1 && shas[0] === sha && (await getVia(h.ingressPort, h.host)).body === body;
      }, 60_000, 100);
      const convergedAt = Date.now();
      console.log(`kill -9 ${when}: converged ${convergedAt - upAt} ms after berth was up again (${convergedAt - killedAt} ms after the kill)`);
      // Taken back like a build (within 10 s), then the interrupted release runs again from the start:
      // its 4 s release command, the container's start and health check. After the switch, one pass.
      const redo = when === "before the switch" ? 10_000 : 0;
      expect(convergedAt - upAt).toBeLessThan(10_000 + RECONCILE_SECONDS * 1000 + redo);
      // Killed after the switch, the outcome may have been recorded but never sent: the sweeper sends it.
      const check = await completedCheck(sha, 60_000);
      console.log(`kill -9 ${when}: check run completed ${Date.now() - killedAt} ms after the kill`);
      expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
      // The release before it stays live until its drain (BERTH_DRAIN_SECONDS=4) ends, which the
      // check run's report need not wait for.
      await waitFor("only the new deployment live", async () => {
        const live = (await deployments()).filter((d) => d.state === "live").map((d) => d.sha);
        return live.length === 1 && live[0] === sha;
      }, 15_000, 100);
    }, 180_000);
  }

  /** After the kill: one pass (and the drain) to one live release that serves, then a completed check run and a final Deployment status. */
  const convergesAfterKill = async (when: string, sha: string, body: string, killedAt: number): Promise<void> => {
    await h.relaunch();
    const upAt = Date.now();
    await waitFor("exactly one live release, serving the new version", async () => {
      const shas = await webShas();
      const live = (await deployments()).filter((d) => d.state === "live").map((d) => d.sha);
      return shas.length === 1 && shas[0] === sha && live.length === 1 && live[0] === sha && (await getVia(h.ingressPort, h.host)).body === body;
    }, 60_000, 100);
    const convergedAt = Date.now();
    console.log(`kill -9 ${when}: converged ${convergedAt - upAt} ms after berth was up again (${convergedAt - killedAt} ms after the kill)`);
    // The first pass runs RECONCILE_SECONDS after the start; BERTH_DRAIN_SECONDS=4 when the drain is left to the release job.
    expect(convergedAt - upAt).toBeLessThan(RECONCILE_SECONDS * 1000 + 4000 + 3000);
    const check = await completedCheck(sha, 30_000);
    console.log(`kill -9 ${when}: check run completed ${Date.now() - killedAt} ms after the kill`);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(h.github.checkRunsFor(sha).every((c) => c.status === "completed")).toBe(true);
    await waitFor("the Deployment's final status", () => h.github.deploymentsFor(sha).some((d) => d.statuses.at(-1)?.state === "success"), 30_000);
    expect(h.github.deploymentsFor(sha).map((d) => d.statuses.at(-1)?.state)).toEqual(["success"]);
  };
  /** What Postgres says of a deployment and its release, read directly (berth may be dead). */
  const stateOf = async (db: pgClient.Client, sha: string) =>
    (await db.query<{ deployment: string; release: string | null }>("select d.state as deployment, r.state as release from deployments d left join releases r on r.deployment_id = d.id where d.sha = $1 order by r.id desc limit 1", [sha])).rows[0];

  it("converges after kill -9 during the switch: recorded live in Postgres, the proxy still on the old release", async () => {
    const old = "the release before the one killed during the switch\n";
    await deploy(old);
    const db = new pgClient.Client({ connectionString: pg.url });
    await db.connect();
    try {
      const before = h.repo.head;
      const body = "released through kill -9 during the switch\n";
      // A web server that takes 2 s to listen: a health check that takes time, in which to take the ingress lock.
      const site = staticSite(body);
      const sha = h.repo.commit({ ...site, Dockerfile: site.Dockerfile!.replace(/CMD .*/, 'CMD ["sh", "-c", "sleep 2 && exec httpd -f -p 8080 -h /www"]') }, "release killed during the switch");
      expect((await h.push(sha, before)).status).toBe(200);
      await waitFor("the new container started", async () => (await containersOf(h.app)).some((c) => c.Labels["berth.sha"] === sha && c.State === "running"), 60_000, 50);
      // The ingress config writer's lock, held as another berth process writing routes would hold it: the
      // release commits its switch in Postgres, then waits for the lock to rewrite and reload the proxy.
      const key = lockKeys.ingress("default");
      await db.query("select pg_advisory_lock($1::int, hashtext($2))", [key.kind, key.name]);
      await waitFor("the switch recorded", async () => (await stateOf(db, sha))?.release === "live", 30_000, 20);
      expect((await getVia(h.ingressPort, h.host)).body).toBe(old);
      await h.kill();
      const killedAt = Date.now();
      await db.query("select pg_advisory_unlock($1::int, hashtext($2))", [key.kind, key.name]);
      expect(await stateOf(db, sha)).toEqual({ deployment: "releasing", release: "live" });
      await convergesAfterKill("during the switch", sha, body, killedAt);
    } finally {
      await db.end();
    }
  }, 180_000);

  it("converges after kill -9 right after the switch, before the release is recorded live", async () => {
    await deploy("the release before the one killed right after the switch\n");
    const before = h.repo.head;
    const body = "released through kill -9 right after the switch\n";
    // A home page that takes 1.5 s: berth's first-served probe (1 s per try) keeps it past the switch for
    // 5 s before it records the release live. /version.txt answers at once and tells the versions apart.
    const slowHome = `#!/bin/sh\nsleep 1.5\nprintf 'Content-Type: text/plain\\n\\n'\ncat /www/version.txt\n`;
    const files = {
      Dockerfile: 'FROM berth-standin/busybox:latest\nCOPY www /www\nRUN chmod +x /www/cgi-bin/index.cgi\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n',
      "www/version.txt": body,
      "www/cgi-bin/index.cgi": slowHome,
      "berth.yaml": "web:\n  healthcheck: { path: /version.txt }\n",
    };
    const sha = h.repo.commit(files, "release killed right after the switch");
    expect((await h.push(sha, before)).status).toBe(200);
    await waitFor("the new version served", async () => (await getVia(h.ingressPort, h.host, "/version.txt")).body === body, 60_000, 20);
    await h.kill();
    const killedAt = Date.now();
    const db = new pgClient.Client({ connectionString: pg.url });
    await db.connect();
    expect(await stateOf(db, sha).finally(() => db.end())).toEqual({ deployment: "releasing", release: "live" });
    await convergesAfterKill("right after the switch", sha, body, killedAt);
    // Not pushed: the tests after this one build plain sites again, not checked at /version.txt.
    h.repo.commit({ "berth.yaml": null, "www/version.txt": null, "www/cgi-bin/index.cgi": null }, "a plain site again");
  }, 180_000);

  it("answers pushes while Postgres is down from its journal, keeps them through a kill -9, and has GitHub redeliver what it had no room for", async () => {
    await pg.stop();
    await waitFor("berth to notice", async () => (await fetch(`${h.berth.url}/healthz`)).status === 503, 20_000);
    const before = h.repo.head;
    const body = "pushed while Postgres was down\n";
    const sha = h.repo.commit(staticSite(body), "while Postgres is down");
    const kept = await h.push(sha, before);
    expect(kept.status).toBe(200); // in berth's journal, not yet in Postgres
    // Pushes to a branch berth does not deploy, until the journal's bound (1 MB in this file) refuses one.
    let refused: Awaited<ReturnType<Harness["push"]>> | undefined;
    const sent = [kept.id];
    for (let i = 0; i < 1000 && !refused; i++) {
      const d = await h.push(h.repo.head, h.repo.head, { ref: `refs/heads/flood-${i}` });
      sent.push(d.id);
      if (d.status !== 200) refused = d;
    }
    expect(refused?.status).toBeGreaterThanOrEqual(500);
    await new Promise((r) => setTimeout(r, 3000)); // an outage berth's probes see, not only the failed delivery
    await h.kill(); // with every answered delivery still only in the journal
    await pg.start();
    const upAt = Date.now();
    await h.relaunch();
    const check = await completedCheck(sha, 60_000);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor("served", async () => (await getVia(h.ingressPort, h.host)).body === body, 30_000);
    console.log(`Postgres down, berth killed: the push answered meanwhile was live ${Date.now() - upAt} ms after both were back`);
    // Answered once, never asked for again; the refused one delivered again at berth's request.
    expect(h.github.hookDeliveries.filter((d) => d.guid === kept.id).map((d) => [d.redelivery, d.status_code])).toEqual([[false, 200]]);
    await waitFor("the refused delivery redelivered", () => h.github.hookDeliveries.some((d) => d.guid === refused?.id && d.redelivery && d.status_code === 200), 30_000);
    const db = new pgClient.Client({ connectionString: pg.url });
    await db.connect();
    try {
      const worked = async () => (await db.query<{ n: string }>("select count(*) n from webhook_deliveries where processed_at is not null and delivery_id = any($1)", [sent])).rows[0]?.n;
      await waitFor("every delivery of the outage recorded and worked off, once each", async () => Number(await worked()) === sent.length, 30_000, 250);
    } finally {
      await db.end();
    }
  }, 180_000);

  it("asks GitHub again for deliveries it answered and has no record of once Postgres is back (what a machine crash can lose)", async () => {
    // Pushes to a branch berth does not deploy: each is recorded and worked off as ignored.
    const answered = await Promise.all(Array.from({ length: 30 }, (_, i) => h.push(h.repo.head, h.repo.head, { ref: `refs/heads/burst-${i}` })));
    expect(answered.map((d) => d.status)).toEqual(answered.map(() => 200));
    const ids = answered.map((d) => d.id);
    const db = new pgClient.Client({ connectionString: pg.url });
    db.on("error", () => undefined); // Postgres is killed under it
    await db.connect();
    // What a machine crash can lose: the newest deliveries, answered from berth's journal before it
    // reached the disk, and so never recorded.
    const lost = ids.slice(-5);
    await db.query("delete from webhook_deliveries where delivery_id = any($1)", [lost]);
    await pg.stop();
    await db.end().catch(() => undefined);
    await pg.start();
    const again = new pgClient.Client({ connectionString: pg.url });
    await again.connect();
    try {
      await waitFor("every answered delivery recorded", async () => Number((await again.query<{ n: string }>("select count(*) n from webhook_deliveries where delivery_id = any($1)", [ids])).rows[0]?.n) === ids.length, 60_000, 250);
      const redelivered = h.github.hookDeliveries.filter((d) => d.redelivery && ids.includes(d.guid));
      console.log(`Postgres killed right after 30 answered deliveries: ${redelivered.length} delivered again by GitHub at berth's request`);
      expect(redelivered.map((d) => d.guid)).toEqual(expect.arrayContaining(lost));
      expect(new Set(redelivered.map((d) => d.guid)).size).toBe(redelivered.length);
      expect(h.berth.child.exitCode).toBeNull();
    } finally {
      await again.end();
    }
  }, 120_000);
});
