import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReportSender } from "../../github/report-sender.js";
import type { App, Deployment } from "../../store/db.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const SUCCESS = { url: "http://shop.berth.test", image: "berth/shop:x", buildSeconds: 1, releaseSeconds: 1 };
const waitFor = async (ok: () => boolean | Promise<boolean>): Promise<void> => {
  for (const until = Date.now() + 8_000; !(await ok()); ) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};
const httpError = (status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP ${status}`), { status, response: { headers } });

describe("GitHub report outbox (real Postgres, fake GitHub and clock)", { timeout: 10_000 }, () => {
  let w: WorkflowWorld;
  let app: App;
  let n = 0;

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    app = await w.app(`shop${++n}`);
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  const unsent = async () => (await w.db.selectFrom("github_reports").select(["subject", "not_before", "leased_by"]).orderBy("id").execute());
  const live = (d: Deployment) => {
    w.reporter.queued(app, d);
    w.reporter.started(app, d);
    w.reporter.buildProgress(app, d, { step: "Step 1/2", tail: "…", elapsedMs: 1000 });
    w.reporter.progress(app, d, "Releasing");
    w.reporter.succeeded(app, d, SUCCESS);
  };

  it("sends only the newest state of each GitHub object: the concluded check run first, then the Deployment and its status", async () => {
    const d = await w.deployment(app, { sha: sha("a1") });
    live(d);
    await w.drain();

    // Queued, in progress and the progress updates are superseded by the conclusion: one POST carries it.
    expect(w.github.writes).toEqual(["createCheckRun a1a1a1a", "createDeployment a1a1a1a", "status success"]);
    const run = w.github.checkRunFor(sha("a1"));
    expect(run).toMatchObject({ status: "completed", conclusion: "success" });
    expect(run.output?.title).toBe("Live at http://shop.berth.test");
    expect(w.github.deploymentsFor(sha("a1"))[0]?.statuses.map((s) => [s.state, s.environmentUrl])).toEqual([["success", "http://shop.berth.test"]]);
    expect(await unsent()).toEqual([]);
  });

  it("stores reports added while a write runs in one transaction, as it would store them one by one", async () => {
    const steps = (d: Deployment) => [
      () => w.reporter.queued(app, d),
      () => w.reporter.started(app, d),
      () => w.reporter.buildProgress(app, d, { step: "Step 1/2", tail: "…", elapsedMs: 1000 }),
      () => w.reporter.progress(app, d, "Releasing"),
      () => w.reporter.buildProgress(app, d, { step: "Step 2/2", tail: "…", elapsedMs: 2000 }),
      () => w.reporter.succeeded(app, d, SUCCESS),
    ];
    const stored = async (d: Deployment) =>
      (await w.db.selectFrom("github_reports").select(["subject", "chain", "priority", "report"]).where("subject", "like", `d:${d.id}:%`).orderBy("id").execute()).map((r) => ({
        ...r,
        subject: r.subject.replace(`:${d.id}:`, ":D:"),
        chain: r.chain.replace(`:${d.id}:`, ":D:"),
        report: JSON.parse(JSON.stringify(r.report).replaceAll(`"deploymentId":${d.id}`, `"deploymentId":"D"`).replaceAll(`/deployments/${d.id}?key=key${d.id}`, "/deployments/D?key=keyD")),
      }));
    const oneByOne = await w.deployment(app, { sha: sha("b1") });
    for (const step of steps(oneByOne)) {
      step();
      await w.outbox.flushed();
    }
    const batched = await w.deployment(app, { sha: sha("b1") });
    for (const step of steps(batched)) step(); // all added at once: the first write alone, the rest in one
    await w.outbox.flushed();
    const expected = await stored(oneByOne);
    expect(expected.map((r) => r.subject)).toEqual(["d:D:check", "d:D:deployment"]); // progress dropped by the conclusion
    expect(await stored(batched)).toEqual(expected);
  });

  it("sends every state that was reported after the previous one went out, in order", async () => {
    const d = await w.deployment(app, { sha: sha("a2") });
    w.reporter.queued(app, d);
    await w.drain();
    w.reporter.started(app, d);
    await w.drain();
    w.reporter.succeeded(app, d, SUCCESS);
    await w.drain();

    const id = w.github.checkRunFor(sha("a2")).id;
    // Once work starts, the Deployment is created ahead of the check run's in-progress state: at first served only its status is left.
    expect(w.github.writes).toEqual([`createCheckRun a2a2a2a`, "createDeployment a2a2a2a", `updateCheckRun ${id}`, "status in_progress", `updateCheckRun ${id}`, "status success"]);
    expect(w.github.checkRunFor(sha("a2")).history.map((u) => u.conclusion ?? u.status)).toEqual(["queued", "in_progress", "success"]);
  });

  it("sends a deployment's outcome before other deployments' older, less urgent reports, and a Deployment's creation before opening states", async () => {
    const building = await w.deployment(app, { sha: sha("d1") });
    const done = await w.deployment(app, { sha: sha("d2") });
    w.reporter.started(app, building);
    w.reporter.skipped(app, done, "No watched path changed", "…");
    await w.drain();
    expect(w.github.writes).toEqual(["createCheckRun d2d2d2d", "createDeployment d1d1d1d", "createCheckRun d1d1d1d", "status in_progress"]);
  });

  it("writes to an installation once per turn, and at each turn sends the most urgent report waiting: an outcome overtakes older writes", async () => {
    const [a, b, c] = [await w.deployment(app, { sha: sha("e1") }), await w.deployment(app, { sha: sha("e2") }), await w.deployment(app, { sha: sha("e3") })];
    for (const d of [a, b, c]) w.reporter.started(app, d);
    await w.outbox.flushed();
    const sender = new ReportSender(w.db, w.github, w.log, { pollMs: 20, limits: { refillMs: 200, burst: 1, reserves: [0], commentSpacingMs: 600 } });
    const begun = Date.now();
    sender.start();
    await waitFor(() => w.github.writes.length > 0);
    w.reporter.succeeded(app, c, SUCCESS); // while the first write's turn lasts
    await waitFor(async () => (await unsent()).length === 0 && w.github.writes.length === 9);
    const took = Date.now() - begun;
    await sender.stop();

    expect(w.github.writes).toEqual([
      "createDeployment e1e1e1e", // Deployments are created ahead of opening states
      "createCheckRun e3e3e3e", // queued and in progress superseded: one POST with the conclusion
      "createDeployment e3e3e3e", // not created yet: the outcome creates it first, at the outcome's priority
      "status success", // its in_progress status superseded
      "createDeployment e2e2e2e",
      "createCheckRun e1e1e1e", // in progress
      "createCheckRun e2e2e2e",
      "status in_progress", // last: an outcome would have superseded them
      "status in_progress",
    ]);
    expect(w.github.checkRunFor(sha("e3")).history.map((u) => u.conclusion ?? u.status)).toEqual(["success"]);
    expect(took).toBeGreaterThanOrEqual(8 * 200 - 50); // nine writes, a turn apart
  });

  it("lets a burst of writes out at once down to the reserve, which only outcomes (check run and Deployment status) may spend", async () => {
    const [a, b, c] = [await w.deployment(app, { sha: sha("f1") }), await w.deployment(app, { sha: sha("f2") }), await w.deployment(app, { sha: sha("f3") })];
    for (const d of [a, b, c]) w.reporter.started(app, d);
    await w.outbox.flushed();
    // A token comes back every 20 s: nothing here waits for one.
    const sender = new ReportSender(w.db, w.github, w.log, { pollMs: 20, limits: { refillMs: 20_000, burst: 7, reserves: [0, 4], commentSpacingMs: 60_000 } });
    sender.start();
    await waitFor(() => w.github.writes.length === 3); // burst 7 less the reserve of 4
    await new Promise((r) => setTimeout(r, 200));
    expect(w.github.writes).toEqual(["createDeployment f1f1f1f", "createDeployment f2f2f2f", "createDeployment f3f3f3f"]);
    w.reporter.succeeded(app, a, SUCCESS);
    w.reporter.succeeded(app, c, SUCCESS);
    const begun = Date.now();
    const outcome = (s: string) => w.github.checkRunsFor(s)[0]?.conclusion === "success" && w.github.deploymentsFor(s)[0]?.statuses.at(-1)?.state === "success";
    await waitFor(() => outcome(sha("f1")) && outcome(sha("f3")));
    const took = Date.now() - begun;
    await sender.stop();
    expect(took).toBeLessThan(2_000);
    // The two outcomes spent the reserve, a write each for the check run and the status; nothing else went.
    expect(w.github.writes.slice(3)).toEqual(["createCheckRun f1f1f1f", "status success", "createCheckRun f3f3f3f", "status success"]);
  });

  it("sends what an earlier process left in Postgres, and takes over a dead process's claim once its lease ran out", async () => {
    const d = await w.deployment(app, { sha: sha("a3") });
    live(d);
    await w.outbox.flushed(); // the process that reported is gone before sending anything
    await w.db.updateTable("github_reports").set({ leased_by: "dead process", leased_until: w.clock.now() + 60_000 }).where("subject", "=", `d:${d.id}:deployment`).execute();

    const next = new ReportSender(w.db, w.github, w.log, { clock: w.clock, leaseMs: 60_000 });
    // The check run goes (a chain of its own); the Deployment waits for its claimed report.
    expect(await next.sendReady()).toBe(1);
    expect(w.github.writes).toEqual(["createCheckRun a3a3a3a"]);
    w.clock.advance(60_001);
    expect(await next.sendReady()).toBe(2); // the Deployment, then its status on a turn of its own
    expect(w.github.checkRunFor(sha("a3")).conclusion).toBe("success");
    expect(w.github.deploymentsFor(sha("a3"))[0]?.statuses.map((s) => s.state)).toEqual(["success"]);
  });

  it("stop() leaves a backlog in Postgres, released for the next process, without waiting for it", async () => {
    const hang = new Promise<never>(() => {});
    const slow = Object.create(w.github, { createDeployment: { value: () => hang }, createCheckRun: { value: () => hang } });
    w.reporter.skipped(app, await w.deployment(app, { sha: sha("b0") }), "No watched path changed", "…"); // its creation hangs
    for (const c of ["b1", "b2", "b3"]) live(await w.deployment(app, { sha: sha(c) }));
    await w.outbox.flushed();
    const sender = new ReportSender(w.db, slow, w.log, { concurrency: 2, pollMs: 10 });
    sender.start();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await sender.stop(300);
    expect(Date.now() - started).toBeLessThan(1000);
    const left = await unsent();
    expect(left.length).toBeGreaterThanOrEqual(6); // each deployment's Deployment status and check run
    expect(left.every((r) => r.leased_by === null)).toBe(true);
    // Nor does a check run it was creating stay claimed: the next process would wait that claim out.
    expect(await w.db.selectFrom("deployments").select("id").where("check_run_id", "=", "-1").execute()).toEqual([]);

    await w.drain(); // the next process
    for (const c of ["b1", "b2", "b3"]) expect(w.github.checkRunFor(sha(c)).conclusion).toBe("success");
    expect(w.github.checkRunFor(sha("b0")).conclusion).toBe("skipped");
  });

  // sendReady ignores the pace; a running sender also holds the whole installation (WritePacer.pause).
  it("waits as long as GitHub's retry-after says when rate limited, and sends the reports that were not refused", async () => {
    const limited = await w.deployment(app, { sha: sha("c1") });
    const other = await w.deployment(app, { sha: sha("c2") });
    w.reporter.skipped(app, limited, "No watched path changed", "…");
    w.reporter.skipped(app, other, "No watched path changed", "…");
    w.github.failures.push(httpError(403, { "retry-after": "30" }));
    await w.drain();

    expect(w.github.writes).toEqual(["createCheckRun c2c2c2c"]);
    expect(await unsent()).toEqual([{ subject: `d:${limited.id}:check`, not_before: String(w.clock.now() + 30_000), leased_by: null }]);
    w.clock.advance(29_999);
    await w.drain();
    expect(w.github.checkRunsFor(sha("c1"))).toEqual([]);
    w.clock.advance(1);
    await w.drain();
    expect(w.github.checkRunFor(sha("c1")).conclusion).toBe("skipped");
  });

  it("waits for x-ratelimit-reset when the quota is spent, and backs off 1 s, 2 s on server errors", async () => {
    const d = await w.deployment(app, { sha: sha("c3") });
    w.reporter.skipped(app, d, "No watched path changed", "…");
    const reset = Math.ceil(w.clock.now() / 1000) + 120;
    w.github.failures.push(httpError(429, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }), httpError(502), httpError(503));
    await w.drain();
    expect((await unsent())[0]?.not_before).toBe(String(reset * 1000));
    w.clock.advance(reset * 1000 - w.clock.now());
    await w.drain();
    expect((await unsent())[0]?.not_before).toBe(String(w.clock.now() + 2_000)); // its second attempt
    w.clock.advance(2_000);
    await w.drain();
    expect((await unsent())[0]?.not_before).toBe(String(w.clock.now() + 4_000));
    w.clock.advance(4_000);
    await w.drain();
    expect(w.github.checkRunFor(sha("c3")).conclusion).toBe("skipped");
  });

  it("creates the Deployment when work starts; its in-progress status then waits last, and a success never lets it out", async () => {
    const d = await w.deployment(app, { sha: sha("g1") });
    const other = await w.deployment(app, { sha: sha("g2") });
    w.reporter.queued(app, other);
    w.reporter.started(app, d);
    await w.outbox.flushed();
    expect(await w.sender.sendOne()).toBe(true);
    expect(w.github.writes).toEqual(["createDeployment g1g1g1g"]); // ahead of the older queued check run
    const priorities = await w.db.selectFrom("github_reports").select(["subject", "priority"]).orderBy("priority").orderBy("id").execute();
    expect(priorities).toEqual([
      { subject: `d:${other.id}:check`, priority: 2 },
      { subject: `d:${d.id}:check`, priority: 2 },
      { subject: `d:${d.id}:deployment`, priority: 3 }, // what is left: the in-progress status
    ]);
    w.reporter.succeeded(app, d, SUCCESS);
    await w.drain();
    expect(w.github.writes).toEqual(["createDeployment g1g1g1g", "createCheckRun g1g1g1g", "status success", "createCheckRun g2g2g2g"]);
    expect(w.github.deploymentsFor(sha("g1"))[0]?.statuses.map((s) => s.state)).toEqual(["success"]);
  });

  it("drops a report GitHub refuses (422) and goes on with the next one", async () => {
    const d = await w.deployment(app, { sha: sha("c4") });
    w.reporter.started(app, d);
    await w.outbox.flushed();
    expect(await w.sender.sendOne()).toBe(true); // the Deployment's creation goes first
    w.github.failures.push(httpError(422)); // then the check run's
    await w.drain();

    expect(w.github.writes).toEqual(["createDeployment c4c4c4c", "status in_progress"]);
    expect(w.github.checkRunsFor(sha("c4"))).toEqual([]);
    expect((await w.get(d.id)).check_run_id).toBeNull(); // the claim is given back: a later report creates it
    expect(await unsent()).toEqual([]);
    w.reporter.succeeded(app, d, SUCCESS);
    await w.drain();
    expect(w.github.checkRunFor(sha("c4")).conclusion).toBe("success");
  });
});
