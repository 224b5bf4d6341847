import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { reconcileOnce } from "../../releaser/reconciler.js";
import { runRelease } from "../../releaser/release/workflow.js";
import { CADDYFILE_PATH, PROXY_CONTAINER } from "../../releaser/proxy-plan.js";
import { Sleeper } from "../../releaser/sleep.js";
import type { App, Deployment } from "../../store/db.js";
import { markAsleep } from "../../store/sleep-store.js";
import { openPreview } from "../../store/environment-store.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const TREE = { Dockerfile: "FROM node:20\nEXPOSE 8080\n", "berth.yaml": "previews: { sleep_after: 10s }\nservices:\n  cache: { image: redis:7 }\n" };
const WAKER = "10.99.0.1:4000";

// Real Postgres, fake engine, simulated time: the sleeper's state machine and its convergence.
describe("Sleeper (real Postgres, fake engine)", { timeout: 15_000 }, () => {
  let w: WorkflowWorld;
  let log: string;
  let sleeper: Sleeper;
  const events: string[] = [];

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    w.host.addImage("redis:7");
    log = "";
    events.length = 0;
    sleeper = new Sleeper({
      db: w.db,
      host: w.host,
      proxy: w.proxy,
      log: w.log,
      accessLog: { read: async () => ({ text: log, truncated: false }) },
      previewSleepAfterMs: 1_800_000,
      waker: async () => WAKER,
      wakeTimeoutMs: 5_000,
      reporter: w.reporter,
      onSlept: (reason) => events.push(`slept:${reason}`),
      onWoken: (trigger) => events.push(`woke:${trigger}`),
      clock: w.clock,
    });
    w.proxy.overlay = sleeper.overlay;
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  async function livePreview(app: App, pr: number): Promise<Deployment> {
    const commit = sha(`s${pr}`);
    await openPreview(w.db, { appId: app.id, name: `pr-${pr}`, prNumber: pr, headSha: commit, headRepo: app.repo_full_name, fork: false });
    w.fetcher.trees.set(commit, TREE);
    const d = await w.deployment(app, { sha: commit, environment: `pr-${pr}` });
    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
    expect(await runRelease(w.releaseDeps(), d.id)).toBe("live");
    w.github.openPulls.set(app.repo_full_name, new Set([pr]));
    return w.get(d.id);
  }
  const caddyfile = (): string => w.host.find(PROXY_CONTAINER)?.files.get(CADDYFILE_PATH) ?? "";
  const running = async (app: App, env: string): Promise<string[]> =>
    (await w.host.listManaged({ "berth.app": app.name, "berth.environment": env })).containers.filter((c) => c.running).map((c) => c.labels["berth.role"] ?? "").sort();
  const pass = () => reconcileOnce(w.reconcilerDeps({ sleeper }));
  const requestLine = (host: string, ms: number): string => `${JSON.stringify({ ts: ms / 1000, logger: "http.log.access.log0", request: { host } })}\n`;

  it("puts an idle preview to sleep, routes it to the waker, wakes it on request and lets it fall asleep again", async () => {
    const app = await w.app("nap");
    await livePreview(app, 1);
    const host = "nap-pr-1.berth.test";
    expect(await running(app, "pr-1")).toEqual(["service", "web"]);
    // Awake and sleepable: its requests are logged for the idle time.
    await pass();
    expect(caddyfile()).toMatch(/http:\/\/nap-pr-1\.berth\.test \{\n\tlog \{\n\t\toutput stdout\n\t\tformat filter \{\n\t\t\twrap json/);

    // A request 8s in keeps it awake at 12s; 19s in it has been idle for 11s.
    log = requestLine(host, w.clock.now() + 8_000);
    w.clock.advance(12_000);
    expect((await pass()).slept).toEqual([]);
    w.clock.advance(7_000);
    expect((await pass()).slept).toEqual(["nap/pr-1"]);
    expect(await running(app, "pr-1")).toEqual([]);
    expect(caddyfile()).toContain(`http://nap-pr-1.berth.test {\n\treverse_proxy ${WAKER} {`);
    await w.drain();
    expect(w.github.commentsOn(1)[0]?.body).toContain("😴 berth preview: sleeping");

    expect(await sleeper.wakeHostname(host)).toBe("woken");
    expect(await running(app, "pr-1")).toEqual(["service", "web"]);
    expect(caddyfile()).not.toContain(WAKER);
    expect(await sleeper.wakeHostname(host)).toBe("awake");
    expect(await sleeper.wakeHostname("nobody.berth.test")).toBe("unknown");
    // The wake started what was there: no release command, no new container.
    expect(w.host.containers.size).toBe(3); // proxy, service, web

    w.clock.advance(9_000);
    expect((await pass()).slept).toEqual([]);
    w.clock.advance(2_000);
    expect((await pass()).slept).toEqual(["nap/pr-1"]);
    expect(events).toEqual(["slept:idle", "woke:request", "slept:idle"]);
  });

  it("concurrent wakes of one environment start it once", async () => {
    const app = await w.app("many");
    await livePreview(app, 2);
    expect(await sleeper.sleepEnvironment(app.id, "pr-2")).toBe(true);
    expect(await sleeper.sleepEnvironment(app.id, "pr-2")).toBe(false);
    const starts = w.host.containers.size;
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => sleeper.wakeHostname("many-pr-2.berth.test")));
    // A caller whose lookup finished after the shared wake did finds it awake: still one wake.
    expect(outcomes).toContain("woken");
    expect(outcomes.every((o) => o === "woken" || o === "awake")).toBe(true);
    expect(w.host.containers.size).toBe(starts);
    expect(events).toEqual(["slept:api", "woke:request"]);
  });

  it("converges a wake that died before its commit back to asleep, and a failed wake stays asleep", async () => {
    const app = await w.app("crash");
    await livePreview(app, 3);
    await sleeper.sleepEnvironment(app.id, "pr-3");
    // A berth that died mid-wake: containers started, sleeping_at never cleared.
    for (const c of (await w.host.listManaged({ "berth.app": app.name })).containers) await w.host.startContainer(c.id);
    expect(await running(app, "pr-3")).toEqual(["service", "web"]);
    await pass();
    expect(await running(app, "pr-3")).toEqual([]);
    expect(caddyfile()).toContain(WAKER);

    w.host.http = () => undefined; // the app never answers
    await expect(sleeper.wakeEnvironment(app.id, "pr-3")).rejects.toThrow(/no healthy answer/);
    expect(await running(app, "pr-3")).toEqual([]);
    expect(caddyfile()).toContain(WAKER);
  });

  it("a release wakes a sleeping preview: its new container is routed, not the waker, and its stopped service is started, not recreated", async () => {
    const app = await w.app("push");
    await livePreview(app, 4);
    const serviceId = async () => (await w.host.listManaged({ "berth.app": app.name, "berth.role": "service" })).containers.map((c) => c.id);
    const service = await serviceId();
    await markAsleep(w.db, app.id, "pr-4");
    await pass();
    expect(caddyfile()).toContain(WAKER);
    expect(await running(app, "pr-4")).toEqual([]);
    const commit = sha("push2");
    w.fetcher.trees.set(commit, TREE);
    const d = await w.deployment(app, { sha: commit, environment: "pr-4" });
    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
    expect(await runRelease(w.releaseDeps(), d.id)).toBe("live");
    expect(caddyfile()).not.toContain(WAKER);
    expect(await running(app, "pr-4")).toEqual(["service", "web"]);
    // Its data (anonymous volumes too) stays with the container.
    expect(await serviceId()).toEqual(service);
  });

  it("production sleeps only when its berth.yaml sets sleep_after, and gets no PR comment", async () => {
    const release = async (app: App, yaml: string): Promise<void> => {
      const commit = sha(`p-${app.name}`);
      w.fetcher.trees.set(commit, { Dockerfile: TREE.Dockerfile, "berth.yaml": yaml });
      const d = await w.deployment(app, { sha: commit });
      expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
      expect(await runRelease(w.releaseDeps(), d.id)).toBe("live");
    };
    const napping = await w.app("napping");
    const awake = await w.app("awake");
    await release(napping, "sleep_after: 1h\n");
    await release(awake, "previews: { sleep_after: 10s }\n");
    // The fake clock started with the test; the releases' live_at is Postgres' (a moment later).
    w.clock.advance(3_660_000);
    expect((await pass()).slept).toEqual(["napping/production"]);
    expect(await running(napping, "production")).toEqual([]);
    expect(await running(awake, "production")).toEqual(["web"]);
    expect(caddyfile()).toContain(`http://napping.berth.test {\n\treverse_proxy ${WAKER} {`);
    await w.drain();
    expect(w.github.comments.size).toBe(0);
  });
});
