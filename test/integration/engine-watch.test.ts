import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { EngineWatch } from "../../builder/engine-watch.js";

const KILLED = "docker build failed: The command '/bin/sh -c sleep 14' returned a non-zero code: 137";

describe("EngineWatch (real Docker engine)", () => {
  it("lets a build error stand while the engine stays up, a killed step after a short look", async () => {
    const watch = await EngineWatch.start(new Docker({ socketPath: "/var/run/docker.sock" }), { waitMs: 1000, pollMs: 50, settleMs: 300 });
    try {
      expect(await watch.lost(new Error("docker build failed: The command '/bin/sh -c false' returned a non-zero code: 1"))).toBeUndefined();
      const started = Date.now();
      expect(await watch.lost(new Error(KILLED))).toBeUndefined();
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      watch.stop();
    }
  });

  it("makes it infrastructure trouble, with the reason, when the engine no longer answers", async () => {
    const watch = await EngineWatch.start(new Docker({ socketPath: "/run/berth-no-such-engine/docker.sock" }), { waitMs: 1000, pollMs: 100, settleMs: 300 });
    const started = Date.now();
    const e = await watch.lost(new Error(KILLED));
    expect(e?.message).toBe(`The Docker engine stopped answering during the build (it did not answer again within 1s): ${KILLED}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});
