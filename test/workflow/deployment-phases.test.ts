import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { runRelease } from "../../releaser/release/workflow.js";
import type { ServedProbe } from "../../releaser/served-probe.js";
import { startDeployment } from "../../server/start-deployment.js";
import type { App } from "../../store/db.js";
import { PHASES } from "../../store/phases.js";
import { UserError } from "../../core/errors.js";
import { failsWith } from "../support/fakes/fake-builder.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

// Simulated time: the fakes move the FakeClock by what each phase "takes", so every duration is exact.
describe("deployment phases (real Postgres, fake ports)", { timeout: 10_000 }, () => {
  let w: WorkflowWorld;
  let app: App;
  let n = 0;

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    app = await w.app(`timed${++n}`);
    w.fetcher.tree = { Dockerfile: "FROM node:20\nEXPOSE 8080\n" };
    w.builder.script = async (plan, run) => {
      w.clock.advance(400); // the build
      run.log(`Successfully tagged ${plan.image}\n`);
    };
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  /** A probe through the proxy that sees 502 (no upstream yet) `misses` times, each taking 30 ms, then 200. */
  const servedAfter = (misses: number, hostnames: string[] = []): ServedProbe => {
    let left = misses;
    return async (hostname) => {
      hostnames.push(hostname);
      w.clock.advance(30);
      return left-- > 0 ? 502 : 200;
    };
  };

  async function pushed(commit: string) {
    const d = await startDeployment(w.webhookDeps({ clock: w.clock }), app, { environment: "production", sha: commit, ref: "refs/heads/main", cloneUrl: "", deliveryId: `d-${commit}` });
    if (!d) throw new Error("not recorded");
    return d;
  }

  it("stamps every phase from the webhook to the drain, in order, with the injected clock", async () => {
    const before = await pushed(sha("p0")); // a release to replace, so there is one to drain
    await runBuild(w.buildDeps(), before.id);
    await runRelease(w.releaseDeps(), before.id);
    const t0 = w.clock.now();
    const d = await pushed(sha("p1"));
    expect(await w.get(d.id).then((x) => x.phases)).toEqual({ received: t0, queued: t0 });
    w.clock.advance(50); // the job waits for a worker
    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
    const hostnames: string[] = [];
    expect(await runRelease(w.releaseDeps({ served: servedAfter(2, hostnames) }), d.id)).toBe("live");

    const phases = (await w.get(d.id)).phases;
    expect(Object.keys(phases).sort()).toEqual([...PHASES].sort());
    const times = PHASES.map((p) => phases[p] as number);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(phases.fetch_started).toBe(t0 + 50);
    expect(phases.build_done! - phases.build_started!).toBe(400);
    expect(phases.first_served! - phases.route_switched!).toBe(3 * 30 + 2 * 20); // three probes, two 20 ms pauses
    expect(phases.drained! - phases.first_served!).toBe(5_000); // SETTINGS.drainMs, in simulated time
    expect(hostnames.every((h) => h === `${app.name}.berth.test`)).toBe(true);
  });

  it("summarises build and release time from the phases on the success check run", async () => {
    const d = await pushed(sha("p2"));
    await runBuild(w.buildDeps(), d.id);
    await runRelease(w.releaseDeps({ served: servedAfter(1) }), d.id);
    await w.drain();
    // build: fetch started → built = 400 ms; release: built → first served = two 30 ms probes and a 20 ms pause.
    expect(w.github.checkRunFor(sha("p2")).output?.summary).toContain("built in 0.4s, released in 0.1s");
  });

  it("leaves first served out, and times the release to the switch, when the proxy never answers; the release still goes live", async () => {
    const d = await pushed(sha("p3"));
    await runBuild(w.buildDeps(), d.id);
    w.builder.script = async () => undefined;
    const never: ServedProbe = async () => {
      w.clock.advance(100);
      return undefined;
    };
    expect(await runRelease(w.releaseDeps({ served: never }), d.id)).toBe("live");
    const phases = (await w.get(d.id)).phases;
    expect(phases.route_switched).toBeDefined();
    expect(phases.first_served).toBeUndefined();
    await w.drain();
    expect(w.github.checkRunFor(sha("p3")).output?.summary).toContain("built in 0.4s, released in 0s");
  });

  it("keeps the phases a failed build reached", async () => {
    const d = await pushed(sha("p4"));
    w.builder.next(failsWith(new UserError("step 2/2 failed"), "RUN false\n"));
    expect(await runBuild(w.buildDeps(), d.id)).toBe("failed");
    const phases = (await w.get(d.id)).phases;
    expect(Object.keys(phases).sort()).toEqual(["build_started", "fetch_done", "fetch_started", "queued", "received"]);
  });
});
