import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { UserError } from "../../core/errors.js";
import { SecretBox } from "../../core/secret-box.js";
import { Sensitive } from "../../core/sensitive.js";
import { startDeployment } from "../../server/start-deployment.js";
import type { App, Db } from "../../store/db.js";
import { supersedeOlder } from "../../store/environment-store.js";
import { putSecret } from "../../store/secret-store.js";
import { FakeBuilder, failsWith, runsUntilAborted, succeeds } from "../support/fakes/fake-builder.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const DOCKERFILE = "FROM node:20\nEXPOSE 8080\nCMD [\"node\", \"server.js\"]\n";

// Simulated time: a test that waits for real time has hung, so it fails fast.
describe("runBuild (real Postgres, fake ports)", { timeout: 10_000 }, () => {
  let db: Db;
  let w: WorkflowWorld;
  let app: App;
  let n = 0;

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    db = w.db;
    app = await w.app(`shop${++n}`);
    w.fetcher.tree = { Dockerfile: DOCKERFILE, "server.js": "require('http')\n" };
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  it("fetches the sha, builds berth/<app>:<sha> and hands the deployment to the release", async () => {
    const d = await w.deployment(app, { sha: sha("a1") });

    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");

    const row = await w.get(d.id);
    expect(row).toMatchObject({ state: "releasing", image: `berth/${app.name}:${sha("a1")}-${d.id}`, error: null });
    expect(row.started_at).toBeInstanceOf(Date);
    expect(row.built_at).toBeInstanceOf(Date);
    // The exact commit, with the installation's token, from the URL berth recorded.
    expect(w.fetcher.requests).toHaveLength(1);
    expect(w.fetcher.requests[0]).toMatchObject({ sha: sha("a1"), cloneUrl: `https://github.com/acme/${app.name}.git` });
    expect(w.fetcher.requests[0]!.token.unwrap()).toBe("ghs_fake_42");
    const [build] = w.builder.runs;
    expect(build?.plan.engine).toBe("classic");
    expect(build?.plan.image).toBe(`berth/${app.name}:${sha("a1")}-${d.id}`);
    expect(build?.plan.engine === "classic" && build.plan.docker.context.src).toEqual(["Dockerfile", "server.js"]);
    expect(w.host.images.has(`berth/${app.name}:${sha("a1")}-${d.id}`)).toBe(true);
    expect(await w.logOf(d.id)).toMatch(/built berth\/shop\d+:a1a1.* in \d+\.\ds/);

    await w.drain();
    const run = w.github.checkRunFor(sha("a1"));
    expect(run).toMatchObject({ status: "in_progress", detailsUrl: `http://berth.test/deployments/${d.id}?key=key${d.id}` });
    expect(run.conclusion).toBeUndefined();
    expect(run.output?.title).toBe(`Building ${sha("a1").slice(0, 7)}`);
    const [ghDeployment] = w.github.deploymentsFor(sha("a1"));
    expect(ghDeployment?.request).toMatchObject({ environment: "production", production: true, transient: false });
    expect(ghDeployment?.statuses.map((s) => s.state)).toEqual(["in_progress"]);
  });

  it("fails the check run with the log tail on a failing Dockerfile, and leaves the live release alone", async () => {
    const live = await w.deployment(app, { sha: sha("b0") });
    await db.updateTable("deployments").set({ state: "live", image: `berth/${app.name}:${sha("b0")}` }).where("id", "=", live.id).execute();
    const release = await db
      .insertInto("releases")
      .values({ deployment_id: live.id, app_id: app.id, environment: "production", server: "default", image: `berth/${app.name}:${sha("b0")}`, hostname: `${app.name}.berth.test`, container_id: "c0", container_name: "old-web", upstream: "old-web:8080", state: "live" })
      .returningAll()
      .executeTakeFirstOrThrow();
    const d = await w.deployment(app, { sha: sha("b1") });
    w.builder.next(failsWith(new UserError("docker build failed: The command '/bin/sh -c make' returned a non-zero code: 2"), "Step 2/3 : RUN make\nmake: *** No rule to make target 'all'.  Stop.\n"));

    expect(await runBuild(w.buildDeps(), d.id)).toBe("failed");

    const row = await w.get(d.id);
    expect(row).toMatchObject({ state: "failed", image: null, error: "docker build failed: The command '/bin/sh -c make' returned a non-zero code: 2" });
    expect(await db.selectFrom("releases").selectAll().where("id", "=", release.id).executeTakeFirstOrThrow()).toEqual(release);
    expect((await w.get(live.id)).state).toBe("live");
    await w.drain();
    const run = w.github.checkRunFor(sha("b1"));
    expect(run.conclusion).toBe("failure");
    expect(run.output?.title).toBe("Build failed");
    expect(run.output?.summary).toContain("docker build failed: The command '/bin/sh -c make' returned a non-zero code: 2");
    expect(run.output?.summary).toContain(`The previous release keeps serving the previous release (berth/${app.name}:${sha("b0")}).`);
    expect(run.output?.text).toContain("### Build log (last lines)");
    expect(run.output?.text).toContain("make: *** No rule to make target 'all'.  Stop.");
    expect(w.github.deploymentsFor(sha("b1"))[0]?.statuses.map((s) => s.state)).toEqual(["failure"]); // in_progress was superseded before it was sent
  });

  it("throws berth's own errors for the queue to retry, and the retry builds", async () => {
    const d = await w.deployment(app, { sha: sha("c1") });
    w.builder.next(failsWith(new Error("connect ECONNREFUSED /var/run/docker.sock")));

    await expect(runBuild(w.buildDeps(), d.id)).rejects.toThrow("connect ECONNREFUSED /var/run/docker.sock");
    expect(await w.get(d.id)).toMatchObject({ state: "building", error: null });
    expect(await w.logOf(d.id)).toContain("berth error: connect ECONNREFUSED /var/run/docker.sock");
    await w.drain();
    expect(w.github.checkRunFor(sha("c1")).conclusion).toBeUndefined(); // not failed: it will be retried

    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
    expect((await w.get(d.id)).state).toBe("releasing");
    expect(w.builder.runs).toHaveLength(2);
  });

  it("refuses a Dockerfile that builds on or copies from another app's image, before anything is built", async () => {
    w.fetcher.tree = { Dockerfile: "ARG BASE=docker.io/berth/payments:0123456\nFROM node:20\nCOPY --from=${BASE} /app/.env /stolen\n" };
    const d = await w.deployment(app, { sha: sha("g1") });

    expect(await runBuild(w.buildDeps(), d.id)).toBe("failed");

    expect(w.builder.runs).toHaveLength(0);
    await w.drain();
    expect(w.github.checkRunFor(sha("g1")).output?.summary).toContain(
      "Dockerfile line 3 uses docker.io/berth/payments:0123456: another app's image (berth/payments). berth builds only on public images and this app's own.",
    );
  });

  it("skips a push to the default branch that touches no build.watch path", async () => {
    w.fetcher.tree = { Dockerfile: DOCKERFILE, "berth.yaml": "build:\n  watch: [\"services/api/**\", \"libs/**\"]\n" };
    const d = await w.deployment(app, { sha: sha("d1"), changedPaths: ["docs/README.md"] });

    expect(await runBuild(w.buildDeps(), d.id)).toBe("skipped");

    expect((await w.get(d.id)).state).toBe("skipped");
    expect(w.builder.runs).toHaveLength(0);
    await w.drain();
    const run = w.github.checkRunFor(sha("d1"));
    expect(run.conclusion).toBe("skipped");
    expect(run.output?.title).toBe("No watched path changed");
    expect(run.output?.summary).toBe("This push changed none of the paths in build.watch (`services/api/**`, `libs/**`), so nothing was built or released.");
    expect(w.github.deploymentsFor(sha("d1"))).toEqual([]);

    // A push that does touch one builds.
    const touched = await w.deployment(app, { sha: sha("d2"), changedPaths: ["libs/money.ts"] });
    expect(await runBuild(w.buildDeps(), touched.id)).toBe("built");
  });

  it("fails with what to do when berth.yaml asks for a Dockerfile the repository lacks", async () => {
    w.fetcher.tree = { "berth.yaml": "build:\n  strategy: dockerfile\n", "package.json": "{}\n" };
    const d = await w.deployment(app, { sha: sha("e1") });

    expect(await runBuild(w.buildDeps(), d.id)).toBe("failed");

    const message = `No Dockerfile in acme/${app.name} at ${sha("e1").slice(0, 7)}: add one that EXPOSEs the port your app listens on.`;
    expect(await w.get(d.id)).toMatchObject({ state: "failed", error: message });
    expect(w.builder.runs).toHaveLength(0);
    await w.drain();
    const run = w.github.checkRunFor(sha("e1"));
    expect(run.conclusion).toBe("failure");
    expect(run.output?.summary).toContain(message);
    expect(run.output?.summary).toContain("Nothing was released.");
  });

  it("stops a build at berth.yaml's build.timeout, in simulated time", async () => {
    w.fetcher.tree = { Dockerfile: DOCKERFILE, "berth.yaml": "build:\n  timeout: 2m\n" };
    const d = await w.deployment(app, { sha: sha("f1") });
    w.builder.next(runsUntilAborted);
    const started = w.builder.started();

    const outcome = runBuild(w.buildDeps(), d.id);
    const { run } = await started;
    w.clock.advance(2 * 60_000 - 1);
    expect(run.signal?.aborted).toBe(false);
    w.clock.advance(1);

    expect(await outcome).toBe("failed");
    const message = "The build took longer than 2m and was stopped (build.timeout in berth.yaml, default 15m).";
    expect(await w.get(d.id)).toMatchObject({ state: "failed", error: message });
    await w.drain();
    const check = w.github.checkRunFor(sha("f1"));
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain(message);
  });

  it("does not release a build whose deployment a newer commit cancelled while it built", async () => {
    const d = await w.deployment(app, { sha: sha("a2") });
    w.builder.next(async (plan, run) => {
      const newer = await w.deployment(app, { sha: sha("a3") });
      await supersedeOlder(db, app.id, "production", newer.id); // as the webhook of the newer push does
      await succeeds(plan, run);
    });

    expect(await runBuild(w.buildDeps(), d.id)).toBe("cancelled");

    // Its tag stays recorded: the build made it, and a prune or teardown removes it by that record.
    expect(await w.get(d.id)).toMatchObject({ state: "cancelled", image: `berth/${app.name}:${sha("a2")}-${d.id}`, error: "Superseded by a newer commit." });
  });

  it("stops a running build when a newer push supersedes it through the cancel bus", async () => {
    const d = await w.deployment(app, { sha: sha("a4") });
    await db.updateTable("deployments").set({ dispatched_at: new Date() }).where("id", "=", d.id).execute();
    w.builder.next(runsUntilAborted);
    const started = w.builder.started();
    const tracked = w.cancels.track(d.id);

    const outcome = runBuild(w.buildDeps(), d.id, tracked.signal);
    await started;
    const newer = await startDeployment(w.webhookDeps(), app, { environment: "production", sha: sha("a5"), ref: "refs/heads/main", cloneUrl: "https://github.com/x.git", deliveryId: `push-${sha("a5")}` });

    expect(await outcome).toBe("cancelled");
    tracked.done();
    expect((await w.get(d.id)).state).toBe("cancelled");
    expect(await w.logOf(d.id)).toContain("build stopped: superseded by a newer commit");
    expect(w.redis.published).toEqual([{ channel: "berth:cancel", message: String(d.id) }]);
    await w.drain();
    const old = w.github.checkRunFor(sha("a4"));
    expect(old.conclusion).toBe("cancelled");
    expect(old.output?.title).toBe(`Superseded by ${sha("a5").slice(0, 7)}`);
    // The newer commit is queued for its own build.
    expect(w.buildQueue.waiting).toContainEqual({ deploymentId: newer!.id, sha: sha("a5") });
  });

  describe("build secrets", () => {
    const manifest = "secrets: [NPM_TOKEN]\nbuild:\n  secrets: [NPM_TOKEN]\n";
    const box = new SecretBox(new Sensitive("11".repeat(32)));

    beforeEach(async () => {
      w.fetcher.tree = { Dockerfile: "# syntax=docker/dockerfile:1\nFROM node:20\nRUN --mount=type=secret,id=NPM_TOKEN npm ci\n", "berth.yaml": manifest };
      await putSecret(db, box, app.id, "NPM_TOKEN", new Sensitive("npm_s3cret"));
    });

    it("fails clearly when the plan needs BuildKit and this builder has none", async () => {
      const d = await w.deployment(app, { sha: sha("b7") });

      expect(await runBuild(w.buildDeps({ secretBox: box, builders: { classic: w.builder, pack: w.builder } }), d.id)).toBe("failed");

      const message = "build.secrets need a BuildKit session, which berth opens only on a Docker engine reached through its unix socket; this builder's BERTH_DOCKER_HOST is remote. Its operator can run a builder on the droid host.";
      expect(await w.get(d.id)).toMatchObject({ state: "failed", error: message });
      expect(w.builder.runs).toHaveLength(0);
      await w.drain();
      expect(w.github.checkRunFor(sha("b7")).output?.summary).toContain(message);
    });

    it("hands the secret values to a BuildKit builder, and to no other", async () => {
      const buildkit = new FakeBuilder(succeeds, w.host);
      const d = await w.deployment(app, { sha: sha("b8") });

      expect(await runBuild(w.buildDeps({ secretBox: box, builders: { classic: w.builder, buildkit } }), d.id)).toBe("built");

      expect(w.builder.runs).toHaveLength(0);
      const [{ plan, run }] = buildkit.runs as [(typeof buildkit.runs)[number]];
      expect(plan).toMatchObject({ engine: "buildkit", secretNames: ["NPM_TOKEN"] });
      expect(run.secrets?.NPM_TOKEN?.unwrap()).toBe("npm_s3cret");
      expect(await w.logOf(d.id)).not.toContain("npm_s3cret");
    });
  });
});
