import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dispatchAfter, dispatchBuilds, sweepBuilds, type DispatchDeps } from "../../jobs/build-dispatch.js";
import { createDb, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { Worker } from "bullmq";
import { BUILD_QUEUE, buildJobId, createQueues, createRedis, releaseJobId, type Queues } from "../../jobs/queue.js";
import { Sensitive } from "../../core/sensitive.js";
import { recordDeployment, setDeploymentState, upsertApp } from "../../store/queries.js";
import { freshDatabase, freshRedis, waitFor } from "../support/services.js";

describe("per-app build dispatch (Postgres + Redis)", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let queues: Queues;
  let redis: ReturnType<typeof createRedis>;
  let deps: DispatchDeps;
  let redisUrl: Sensitive;
  let seq = 0;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url));
    await migrate(db);
    redisUrl = new Sensitive(await freshRedis(14));
    redis = createRedis(redisUrl);
    queues = createQueues(redis);
    deps = { db, queues, appBuildConcurrency: 1 };
  });

  afterAll(async () => {
    await queues.close();
    redis.disconnect();
    await db.destroy();
    await drop();
  });

  beforeEach(async () => {
    // Each case starts from an empty line: the sweeper looks at every app's deployments.
    await queues.build.obliterate({ force: true });
    await db.deleteFrom("deployments").execute();
  });

  const app = (name: string) =>
    upsertApp(db, { name, repoFullName: `o/${name}`, repoId: String(++seq + 1000), installationId: "1", defaultBranch: "main" });
  const push = async (appId: number, environment: string) => {
    const n = ++seq;
    const d = await recordDeployment(db, appId, { environment, sha: n.toString(16).padStart(40, "0"), ref: "refs/heads/main", cloneUrl: "x", deliveryId: `d-${n}` });
    return d!;
  };
  const waitingJobs = async () => (await queues.build.getJobs(["waiting"])).map((j) => j.data.deploymentId).sort((a, b) => a - b);

  it("runs one build per app at a time by default, in push order, without holding up other apps", async () => {
    const a = await app("alpha");
    const b = await app("beta");
    const a1 = await push(a.id, "production");
    const a2 = await push(a.id, "pr-1");
    const a3 = await push(a.id, "pr-2");
    const b1 = await push(b.id, "production");
    expect((await dispatchBuilds(deps, a.id)).map((d) => d.id)).toEqual([a1.id]);
    expect((await dispatchBuilds(deps, b.id)).map((d) => d.id)).toEqual([b1.id]);
    expect(await dispatchBuilds(deps, a.id)).toEqual([]); // a1 holds alpha's only slot
    expect(await waitingJobs()).toEqual([a1.id, b1.id]);

    await setDeploymentState(db, a1.id, "building");
    expect(await dispatchBuilds(deps, a.id)).toEqual([]); // building still holds it
    await setDeploymentState(db, a1.id, "releasing");
    expect((await dispatchAfter(deps, a1.id)).map((d) => d.id)).toEqual([a2.id]); // oldest waiting first
    await setDeploymentState(db, a2.id, "failed");
    expect((await dispatchAfter(deps, a2.id)).map((d) => d.id)).toEqual([a3.id]);
    expect(await waitingJobs()).toEqual([a1.id, a2.id, a3.id, b1.id]);
  });

  it("holds the limit when many processes dispatch at once, and honours an app's own limit", async () => {
    const c = await app("gamma");
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await push(c.id, `pr-${i}`)).id);
    const picked = (await Promise.all(Array.from({ length: 8 }, () => dispatchBuilds(deps, c.id)))).flat();
    expect(picked.map((d) => d.id)).toEqual([ids[0]]);

    await db.updateTable("apps").set({ build_concurrency: 3 }).where("id", "=", c.id).execute();
    const more = (await Promise.all(Array.from({ length: 8 }, () => dispatchBuilds(deps, c.id)))).flat();
    expect(more.map((d) => d.id).sort((x, y) => x - y)).toEqual([ids[1], ids[2]]);
    await setDeploymentState(db, ids[0]!, "cancelled");
    expect((await dispatchBuilds(deps, c.id)).map((d) => d.id)).toEqual([ids[3]]);
  });

  it("sweeps: queues again a dispatched build whose job Redis lost, and dispatches a stalled line", async () => {
    const d = await app("delta");
    const d1 = await push(d.id, "production");
    const d2 = await push(d.id, "pr-7");
    await dispatchBuilds(deps, d.id);
    await queues.build.obliterate({ force: true }); // Redis lost everything
    expect(await sweepBuilds(deps, 30_000)).toEqual({ requeued: [], dispatched: [], releases: [], orphaned: [] }); // too fresh to call lost
    await db.updateTable("deployments").set({ dispatched_at: new Date(Date.now() - 60_000) }).where("id", "=", d1.id).execute();
    expect(await sweepBuilds(deps, 30_000)).toEqual({ requeued: [d1.id], dispatched: [], releases: [], orphaned: [] });
    expect(await queues.build.getJob(buildJobId(d1.id, d1.sha))).toBeDefined();

    // A builder died after finishing d1 and before dispatching: the sweep moves the line on.
    await setDeploymentState(db, d1.id, "live");
    expect(await sweepBuilds(deps, 30_000)).toEqual({ requeued: [], dispatched: [d2.id], releases: [], orphaned: [] });
  });

  it("sweeps: reports a build whose job ended without recording its outcome, so its app's slot is freed", async () => {
    const z = await app("zeta");
    const z1 = await push(z.id, "production");
    await dispatchBuilds(deps, z.id);
    // A builder that finished the job but stopped before writing the outcome.
    const worker = new Worker(BUILD_QUEUE, async () => "built", { connection: createRedis(redisUrl) });
    await waitFor("job completed", async () => (await (await queues.build.getJob(buildJobId(z1.id, z1.sha)))?.getState()) === "completed", 10_000, 50);
    await worker.close();
    await setDeploymentState(db, z1.id, "building");
    await db.updateTable("deployments").set({ dispatched_at: new Date(Date.now() - 60_000) }).where("id", "=", z1.id).execute();
    expect((await sweepBuilds(deps, 30_000)).orphaned).toEqual([{ id: z1.id, phase: "build" }]);
  });

  it("sweeps: queues again the release of a built deployment whose release job Redis lost", async () => {
    const e = await app("epsilon");
    const e1 = await push(e.id, "production");
    await db.updateTable("deployments").set({ state: "releasing", built_at: new Date(Date.now() - 60_000), dispatched_at: new Date() }).where("id", "=", e1.id).execute();
    await queues.release.obliterate({ force: true });
    expect((await sweepBuilds(deps, 30_000)).releases).toEqual([e1.id]);
    expect(await queues.release.getJob(releaseJobId(e1.id, e1.sha))).toBeDefined();
    expect((await sweepBuilds(deps, 30_000)).releases).toEqual([]); // its job is there now
  });
});
