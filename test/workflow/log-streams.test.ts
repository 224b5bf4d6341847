import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dbLogSource, type LogSource } from "../../server/log-stream-source.js";
import { LogStreams, type LogStreamsOptions } from "../../server/log-streams.js";
import type { App, Db, DeploymentState } from "../../store/db.js";
import { appendBuildLog, recordDeployment, upsertApp } from "../../store/queries.js";
import { FakeClock } from "../support/fakes/fake-clock.js";
import { FakeStreamSink } from "../support/fakes/fake-stream-sink.js";
import { dropDatabases, openDatabase } from "../support/workflow-world.js";

/** The Postgres source, counting its queries and letting a test wait until none is running. */
class CountingSource {
  readonly calls: { deploymentId: number; after: string }[] = [];
  failures = 0;
  /** While set, queries wait for it, as queries waiting for a pool connection do. */
  gate: Promise<void> | undefined;
  #pending = new Set<Promise<unknown>>();
  constructor(private readonly inner: LogSource) {}

  readonly source: LogSource = (deploymentId, after, limit) => {
    this.calls.push({ deploymentId, after });
    const p = this.failures > 0 ? (this.failures--, Promise.reject(new Error("timeout exceeded when trying to connect"))) : (this.gate ?? Promise.resolve()).then(() => this.inner(deploymentId, after, limit));
    this.#pending.add(p);
    p.catch(() => undefined).finally(() => this.#pending.delete(p));
    return p;
  };

  callsFor(id: number): number {
    return this.calls.filter((c) => c.deploymentId === id).length;
  }

  /** Resolves once every query started so far, and any they led to at once, has been answered. */
  async settle(): Promise<void> {
    do {
      await Promise.allSettled([...this.#pending]);
      await new Promise((r) => setImmediate(r));
    } while (this.#pending.size > 0);
  }
}

const FINAL: DeploymentState[] = ["live", "failed", "cancelled", "removed", "skipped", "replaced", "waiting"];
const RUNNING: DeploymentState[] = ["queued", "building", "releasing"];

// Simulated time throughout (a manual FakeClock): a test that waits for real time has hung.
describe("LogStreams (real Postgres, fake clock)", { timeout: 10_000 }, () => {
  let db: Db;
  let close: () => Promise<void>;
  let app: App;
  let clock: FakeClock;
  let src: CountingSource;
  let streams: LogStreams;
  const errors: { err: unknown; deploymentId: number }[] = [];

  const hub = (opts: LogStreamsOptions = {}): LogStreams => {
    clock = new FakeClock(1_000_000, false);
    src = new CountingSource(dbLogSource(db));
    errors.length = 0;
    streams = new LogStreams(src.source, { clock, onError: (err, deploymentId) => errors.push({ err, deploymentId }), ...opts });
    return streams;
  };
  const deployment = async (state: DeploymentState, chunks: string[] = []): Promise<number> => {
    const d = await recordDeployment(db, app.id, { environment: "production", sha: "ab".repeat(20), ref: "refs/heads/main", cloneUrl: "https://github.com/acme/shop.git", deliveryId: `d-${Math.random()}` });
    await db.updateTable("deployments").set({ state }).where("id", "=", d!.id).execute();
    for (const c of chunks) await appendBuildLog(db, d!.id, c);
    return d!.id;
  };
  const setState = (id: number, state: DeploymentState) => db.updateTable("deployments").set({ state }).where("id", "=", id).execute();
  const view = (id: number, client = "203.0.113.1", lastEventId?: string): FakeStreamSink => {
    const sink = new FakeStreamSink();
    streams.open(id, client, sink, lastEventId);
    return sink;
  };
  /** Moves time by ms and waits for the polls that fall due. */
  const tick = async (ms = 300): Promise<void> => {
    clock.advance(ms);
    await src.settle();
  };

  beforeAll(async () => {
    ({ db, close } = await openDatabase());
    app = await upsertApp(db, { name: "shop", repoFullName: "acme/shop", repoId: "7001", installationId: "42", defaultBranch: "main" });
  });
  afterEach(async () => streams?.close());
  afterAll(async () => {
    await close();
    await dropDatabases();
  });

  it("polls a deployment once per interval whatever its number of viewers, and stops after the last leaves", async () => {
    hub();
    const id = await deployment("building", ["step 1\n"]);
    const viewers = [1, 2, 3, 4, 5].map((i) => view(id, `203.0.113.${i}`));
    await src.settle();
    expect(src.callsFor(id)).toBe(1);
    expect(streams.stats).toEqual({ viewers: 5, pollers: 1 });
    for (const v of viewers) {
      expect(v.status).toBe(200);
      expect(v.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      expect(v.events("log")).toEqual(["step 1\n"]);
      expect(v.events("state")).toEqual(["building"]);
    }

    await appendBuildLog(db, id, "step 2\n");
    await tick();
    expect(src.callsFor(id)).toBe(2);
    for (const v of viewers) expect(v.events("log")).toEqual(["step 1\n", "step 2\n"]);

    // A late viewer gets the whole log from the shared poller; the others get nothing twice.
    const late = view(id, "198.51.100.9");
    await tick();
    expect(src.callsFor(id)).toBe(3);
    expect(late.events("log")).toEqual(["step 1\n", "step 2\n"]);
    for (const v of viewers) expect(v.events("log")).toEqual(["step 1\n", "step 2\n"]);

    const other = await deployment("building");
    view(other);
    await src.settle();
    expect(streams.stats).toEqual({ viewers: 7, pollers: 2 });

    for (const v of [...viewers, late]) v.disconnect();
    await tick();
    expect(streams.stats).toEqual({ viewers: 1, pollers: 1 });
    const polled = src.callsFor(id);
    await tick();
    await tick();
    expect(src.callsFor(id)).toBe(polled);
    expect(src.callsFor(other)).toBe(4);
  });

  it.each(FINAL)("ends a stream of a %s deployment after sending its log and state", async (state) => {
    hub();
    const id = await deployment(state, ["==> built\n", "==> done\n"]);
    const v = view(id);
    await src.settle();
    expect(v.events("log")).toEqual(["==> built\n", "==> done\n"]);
    expect(v.events("state")).toEqual([state]);
    // One more poll for a chunk committed just after the state, then the end.
    await tick();
    expect(v.ended).toBe(true);
    expect(src.callsFor(id)).toBe(2);
    expect(streams.stats).toEqual({ viewers: 0, pollers: 0 });
  });

  it.each(RUNNING)("keeps a stream of a %s deployment open", async (state) => {
    hub();
    const id = await deployment(state);
    const v = view(id);
    await src.settle();
    for (let i = 0; i < 5; i++) await tick();
    expect(v.ended).toBe(false);
    expect(v.events("state")).toEqual([state]);
  });

  it("follows a running deployment into its final state, a chunk written just after it included", async () => {
    hub();
    const id = await deployment("building", ["Step 1/2\n"]);
    const v = view(id);
    await src.settle();
    await appendBuildLog(db, id, "==> live at http://shop.berth.test\n");
    await setState(id, "live");
    await tick();
    expect(v.ended).toBe(false);
    await appendBuildLog(db, id, "==> drained the old release\n");
    await tick();
    expect(v.ended).toBe(true);
    expect(v.events("log")).toEqual(["Step 1/2\n", "==> live at http://shop.berth.test\n", "==> drained the old release\n"]);
    expect(v.events("state")).toEqual(["building", "live"]);
  });

  it("gives a viewer who joins during a poll the whole log, in order, from the next one", async () => {
    hub();
    const id = await deployment("building", ["a", "b"]);
    const early = view(id, "203.0.113.1");
    await src.settle();
    await appendBuildLog(db, id, "c");
    let release: () => void = () => undefined;
    src.gate = new Promise((r) => (release = r));
    clock.advance(300);
    await new Promise((r) => setImmediate(r));
    expect(src.callsFor(id)).toBe(2); // under way, from b's id
    const joined = view(id, "203.0.113.2");
    release();
    src.gate = undefined;
    await src.settle();
    expect(early.events("log")).toEqual(["a", "b", "c"]);
    expect(joined.events("log")).toEqual([]);
    await tick();
    expect(joined.events("log")).toEqual(["a", "b", "c"]);
    expect(early.events("log")).toEqual(["a", "b", "c"]);
  });

  it("resumes after Last-Event-ID, and catches up on a long log in back-to-back batches", async () => {
    hub({ batch: 2 });
    const id = await deployment("replaced", ["a", "b", "c", "d", "e"]);
    const ids = (await db.selectFrom("build_logs").select("id").where("deployment_id", "=", id).orderBy("id").execute()).map((r) => r.id);
    const resumed = view(id, "203.0.113.1", ids[0]);
    const fresh = view(id, "203.0.113.2");
    await src.settle();
    expect(src.callsFor(id)).toBe(3); // 2 + 2 + 1 chunks, without waiting for the clock
    expect(fresh.text).toContain(`id: ${ids[4]}\nevent: log\ndata: e\n\n`);
    expect(fresh.events("log").join("")).toBe("abcde");
    expect(resumed.events("log").join("")).toBe("bcde");
    await tick();
    expect([resumed.ended, fresh.ended]).toEqual([true, true]);
  });

  it("ends the stream of a deployment that no longer exists", async () => {
    hub();
    const v = view(2_000_000_000);
    await src.settle();
    expect(v.ended).toBe(true);
    expect(v.events("state")).toEqual([]);
  });

  it("answers 429 past the per-client and the total cap, and admits again once a stream ends", async () => {
    hub({ perClient: 2, total: 3 });
    const id = await deployment("building");
    const [a1] = [view(id, "203.0.113.1"), view(id, "203.0.113.1")];
    const a3 = view(id, "203.0.113.1");
    expect(a3.status).toBe(429);
    expect(a3.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(a3.json()).toEqual({ error: "Your address has 2 live log streams open, the limit; close some of them and retry." });
    expect(a3.ended).toBe(true);
    expect(streams.admits("203.0.113.1")).toBe(false);
    expect(streams.admits("203.0.113.2")).toBe(true);
    expect(view(id, "203.0.113.2").status).toBe(200);
    expect(streams.admits("203.0.113.3")).toBe(false);
    const c = view(id, "203.0.113.3");
    expect(c.status).toBe(429);
    expect(c.json()).toEqual({ error: `berth is serving its limit of 3 live log streams; retry in a minute, or read the log at /deployments/${id}/log.` });
    a1!.disconnect();
    await src.settle();
    expect(view(id, "203.0.113.3").status).toBe(200);
    expect(view(id, "203.0.113.1").status).toBe(429); // the total again
  });

  it("sends a heartbeat comment every heartbeatMs and ends a stream at its lifetime", async () => {
    hub({ heartbeatMs: 15_000, maxLifetimeMs: 60_000 });
    const id = await deployment("building");
    const v = view(id);
    await src.settle();
    await tick(14_999);
    expect(v.text).not.toContain(": heartbeat");
    await tick(1);
    expect(v.text.match(/^: heartbeat$/gm)).toHaveLength(1);
    await tick(15_000);
    await tick(15_000);
    expect(v.text.match(/^: heartbeat$/gm)).toHaveLength(3);
    expect(v.ended).toBe(false);
    await tick(15_000);
    expect(v.ended).toBe(true);
    expect(v.text.endsWith(": stream lifetime reached; reconnect to go on\n\n")).toBe(true);
    expect(streams.stats).toEqual({ viewers: 0, pollers: 0 });
  });

  it("cuts off a client that stopped reading once berth holds maxBufferedBytes for it", async () => {
    hub({ maxBufferedBytes: 1024 });
    const id = await deployment("building");
    const slow = view(id, "203.0.113.1");
    const reader = view(id, "203.0.113.2");
    await src.settle();
    slow.stalled = true;
    await appendBuildLog(db, id, "x".repeat(2000));
    await tick();
    expect(slow.destroyed).toBe(true);
    expect(reader.events("log")).toEqual(["x".repeat(2000)]);
    expect(streams.stats.viewers).toBe(1);
  });

  it("retries a failed poll after a second and reports the failure", async () => {
    hub();
    const id = await deployment("building", ["step 1\n"]);
    src.failures = 1;
    const v = view(id);
    await src.settle();
    expect(errors.map((e) => [String(e.err), e.deploymentId])).toEqual([["Error: timeout exceeded when trying to connect", id]]);
    await tick(999);
    expect(v.events("log")).toEqual([]);
    await tick(1);
    expect(v.events("log")).toEqual(["step 1\n"]);
  });

  it("close() ends every stream, refuses new ones with 503 and waits for the poll in flight", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    hub();
    const a = await deployment("building");
    const b = await deployment("releasing");
    const views = [view(a, "203.0.113.1"), view(a, "203.0.113.2"), view(b, "203.0.113.3")];
    await src.settle();
    // The next poll of b hangs, as one waiting for a pool connection does.
    const held = new LogStreams(async (...args) => (await gate, src.source(...args)), { clock });
    const h = view(b, "203.0.113.4");
    held.open(b, "203.0.113.5", new FakeStreamSink());
    await new Promise((r) => setImmediate(r)); // its first poll is under way
    let closed = false;
    const closing = Promise.all([streams.close(), held.close()]).then(() => (closed = true));
    for (const v of [...views, h]) expect(v.ended).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(streams.stats).toEqual({ viewers: 0, pollers: 0 });
    const polls = src.calls.length;
    await tick(60_000);
    expect(src.calls.length).toBe(polls);
    const refused = view(a);
    expect(refused.status).toBe(503);
    expect(refused.json().error).toBe("berth is shutting down; reload the page in a moment.");
  });
});
