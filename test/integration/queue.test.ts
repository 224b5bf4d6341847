import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelBus } from "../../jobs/cancel-bus.js";
import { createLogger } from "../../core/logger.js";
import { buildJobId, createQueues, createRedis, type Queues } from "../../jobs/queue.js";
import { Sensitive } from "../../core/sensitive.js";
import { freshRedis, waitFor } from "../support/services.js";

describe("Redis: queues and the cancel channel", () => {
  let url: Sensitive;
  let queues: Queues;
  const connections: { disconnect(): void }[] = [];
  const redis = () => {
    const r = createRedis(url);
    connections.push(r);
    return r;
  };

  beforeAll(async () => {
    url = new Sensitive(await freshRedis(13));
    queues = createQueues(redis());
  });

  afterAll(async () => {
    await queues.close();
    for (const c of connections) c.disconnect();
  });

  it("queues a deployment's build once however often it is added", async () => {
    const id = buildJobId(41, "a".repeat(40));
    await queues.build.add("build", { deploymentId: 41, sha: "a".repeat(40) }, { jobId: id });
    await queues.build.add("build", { deploymentId: 41, sha: "a".repeat(40) }, { jobId: id });
    expect(await (queues.build as Queue).getJobCounts("waiting")).toEqual({ waiting: 1 });
    expect((await queues.build.getJob(id))?.opts.attempts).toBe(3);
  });

  it("aborts a build tracked in another process's bus, and only that one", async () => {
    const log = createLogger("silent");
    const builderSide = new CancelBus(redis(), log);
    await builderSide.listen(redis());
    const webhookSide = new CancelBus(redis(), log);
    const target = builderSide.track(7);
    const other = builderSide.track(8);
    await webhookSide.cancel(7);
    await waitFor("abort delivered", () => target.signal.aborted, 5_000, 10);
    expect(String(target.signal.reason)).toContain("deployment 7 was superseded");
    expect(other.signal.aborted).toBe(false);
    target.done();
    other.done();
  });
});
