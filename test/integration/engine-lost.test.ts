import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { engineLost } from "../../builder/engine-lost.js";

describe("engineLost (real Docker engine)", () => {
  it("lets a build error stand while the engine answers", async () => {
    const docker = new Docker({ socketPath: "/var/run/docker.sock" });
    expect(await engineLost(docker, new Error("docker build failed: The command '/bin/sh -c false' returned a non-zero code: 1"))).toBeUndefined();
  });

  it("makes it infrastructure trouble, with the reason, when the engine no longer answers", async () => {
    const gone = new Docker({ socketPath: "/run/berth-no-such-engine/docker.sock" });
    const started = Date.now();
    const e = await engineLost(gone, new Error("docker build failed: The command '/bin/sh -c sleep 14' returned a non-zero code: 137"), undefined, { waitMs: 1000, pollMs: 100 });
    expect(e?.message).toBe("The Docker engine stopped answering during the build (it did not answer again within 1s): docker build failed: The command '/bin/sh -c sleep 14' returned a non-zero code: 137");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});
