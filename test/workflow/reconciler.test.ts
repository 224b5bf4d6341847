import { teardownEnvironment } from "../../releaser/teardown.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { reconcileOnce } from "../../releaser/reconciler.js";
import { runRelease } from "../../releaser/release/workflow.js";
import { CADDYFILE_PATH, PROXY_CONTAINER } from "../../releaser/proxy-plan.js";
import type { App, Deployment } from "../../store/db.js";
import { closeEnvironment, getEnvironment, openPreview } from "../../store/environment-store.js";
import type { FileTree } from "../support/fakes/fake-source-fetcher.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const DAY = 86_400_000;
const DOCKERFILE = "FROM node:20\nEXPOSE 8080\n";

// Simulated time: a test that waits for real time has hung, so it fails fast.
describe("reconcileOnce (real Postgres, fake engine and GitHub)", { timeout: 10_000 }, () => {
  let w: WorkflowWorld;

  beforeEach(async () => {
    w = await WorkflowWorld.open();
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  /** A pull request's preview, opened, built from this tree and released: what a pull_request event leads to. */
  async function livePreview(app: App, pr: number, commit: string, tree: FileTree = { Dockerfile: DOCKERFILE }): Promise<Deployment> {
    await openPreview(w.db, { appId: app.id, name: `pr-${pr}`, prNumber: pr, headSha: commit, headRepo: app.repo_full_name, fork: false });
    w.fetcher.trees.set(commit, tree);
    const d = await w.deployment(app, { sha: commit, environment: `pr-${pr}` });
    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
    expect(await runRelease(w.releaseDeps(), d.id)).toBe("live");
    return w.get(d.id);
  }

  const caddyfile = (): string => w.host.find(PROXY_CONTAINER)?.files.get(CADDYFILE_PATH) ?? "";
  const resourcesOf = (app: App, environment: string) => w.host.listManaged({ "berth.app": app.name, "berth.environment": environment });

  it("asks GitHub about repositories of unknown visibility, whose previews need a login until it answers", async () => {
    const [open, closed, silent] = [await w.app("open"), await w.app("closed"), await w.app("silent")];
    await w.db.updateTable("apps").set({ private: null }).execute();
    w.github.repositories.set("acme/open", { id: 1, name: "open", full_name: "acme/open", default_branch: "main", owner: { login: "acme" }, private: false });
    w.github.repositories.set("acme/closed", { id: 2, name: "closed", full_name: "acme/closed", default_branch: "main", owner: { login: "acme" }, private: true });
    await reconcileOnce(w.reconcilerDeps({}));
    const privacy = async (id: number) => (await w.db.selectFrom("apps").select("private").where("id", "=", id).executeTakeFirstOrThrow()).private;
    expect([await privacy(open.id), await privacy(closed.id), await privacy(silent.id)]).toEqual([false, true, null]);
  });

  it("expires previews by their own previews.expire_after first, and by BERTH_PREVIEW_TTL otherwise", async () => {
    const keep = await w.app("keep");
    const drop = await w.app("drop");
    const kept = await livePreview(keep, 1, sha("a1"), { Dockerfile: DOCKERFILE, "berth.yaml": "previews:\n  expire_after: 7d\n" });
    const dropped = await livePreview(drop, 2, sha("a2"));
    w.github.openPulls.set("acme/keep", new Set([1]));
    w.github.openPulls.set("acme/drop", new Set([2]));
    const deps = w.reconcilerDeps({ previewTtlMs: 1 * DAY });

    w.clock.advance(2 * DAY);
    const report = await reconcileOnce(deps);

    expect(report).toMatchObject({ expired: ["drop/pr-2"], tornDown: ["drop/pr-2"], closed: [], strays: [] });
    expect((await getEnvironment(w.db, keep.id, "pr-1"))?.state).toBe("open");
    expect((await w.get(kept.id)).state).toBe("live");
    expect((await resourcesOf(keep, "pr-1")).containers.map((c) => c.running)).toEqual([true]);
    expect(caddyfile()).toContain("http://keep-pr-1.berth.test {");

    const env = await getEnvironment(w.db, drop.id, "pr-2");
    expect(env?.state).toBe("expired");
    expect(env?.torn_down_at).toBeInstanceOf(Date);
    expect((await w.get(dropped.id)).state).toBe("removed");
    expect((await w.releasesOf(drop.id, "pr-2")).map((r) => r.state)).toEqual(["stopped"]);
    expect(await resourcesOf(drop, "pr-2")).toEqual({ containers: [], networks: [], volumes: [] });
    expect(w.host.images.has(`berth/drop:${sha("a2")}`)).toBe(false);
    expect(caddyfile()).not.toContain("drop-pr-2");

    // Nothing was sent before: a Deployment never created and already inactive is never created (the outbox coalesces).
    await w.drain();
    expect(w.github.deploymentsFor(sha("a2"))).toEqual([]);
    const [comment] = w.github.commentsOn(2);
    expect(comment?.body).toContain("berth preview: expired and removed");
    expect(comment?.body).toContain("This preview had no push for 1 day and was removed. Push a commit to bring it back.");
    expect(w.github.deploymentsFor(sha("a1"))[0]?.statuses.map((s) => s.state)).toEqual(["success"]);

    // Its own seven days do run out.
    w.clock.advance(5 * DAY + 60_000);
    expect(await reconcileOnce(deps)).toMatchObject({ expired: ["keep/pr-1"], tornDown: ["keep/pr-1"] });
    await w.drain();
    expect(w.github.commentsOn(1)[0]?.body).toContain("This preview had no push for 7 days and was removed.");
  });

  it("tears down a preview whose pull request GitHub no longer lists as open, and waits while GitHub cannot say", async () => {
    const app = await w.app("shop");
    await livePreview(app, 3, sha("b3"));
    await livePreview(app, 4, sha("b4"));

    // GitHub unreachable: nothing is closed on a guess.
    expect(await reconcileOnce(w.reconcilerDeps())).toMatchObject({ closed: [], tornDown: [] });
    expect((await getEnvironment(w.db, app.id, "pr-3"))?.state).toBe("open");

    w.github.openPulls.set("acme/shop", new Set([4, 17]));
    const report = await reconcileOnce(w.reconcilerDeps());

    expect(report).toMatchObject({ closed: ["shop/pr-3"], tornDown: ["shop/pr-3"], expired: [], strays: [] });
    expect((await getEnvironment(w.db, app.id, "pr-3"))?.state).toBe("closed");
    expect((await getEnvironment(w.db, app.id, "pr-4"))?.state).toBe("open");
    expect((await resourcesOf(app, "pr-3")).containers).toEqual([]);
    expect((await resourcesOf(app, "pr-4")).containers.map((c) => c.running)).toEqual([true]);
    expect(w.host.networks.has("berth-shop-pr-3")).toBe(false);
    expect(caddyfile()).not.toContain("shop-pr-3");
    expect(caddyfile()).toContain("http://shop-pr-4.berth.test {");
    await w.drain();
    expect(w.github.commentsOn(3)[0]?.body).toContain("The pull request was closed, so its preview was removed. Reopen it to bring the preview back.");

    // Level-triggered: the next pass finds nothing more to do.
    expect(await reconcileOnce(w.reconcilerDeps())).toMatchObject({ closed: [], tornDown: [], expired: [], strays: [] });
  });

  it("removes preview resources that belong to no open preview, and nothing else", async () => {
    const app = await w.app("shop");
    await livePreview(app, 5, sha("c5"));
    w.github.openPulls.set("acme/shop", new Set([5]));
    // What a crash mid-teardown (or a lost database) leaves on the droid server.
    const labels = (environment: string) => ({ "berth.managed": "true", "berth.app": "shop", "berth.environment": environment });
    await w.host.ensureNetwork("berth-shop-pr-9", labels("pr-9"));
    await w.host.ensureVolume("berth-shop-pr-9-data", labels("pr-9"));
    w.host.addImage("berth/shop:old", { labels: { "berth.app": "shop" } });
    const stray = await w.host.createContainer({ name: "berth-shop-pr-9-web-old", Image: "berth/shop:old", Labels: { ...labels("pr-9"), "berth.role": "web" }, HostConfig: { NetworkMode: "berth-shop-pr-9" } });
    await w.host.startContainer(stray);
    const orphan = await w.host.createContainer({ name: "berth-gone-pr-2-web", Image: "berth/shop:old", Labels: { ...labels("pr-2"), "berth.app": "gone", "berth.role": "web" } });
    const production = await w.host.createContainer({ name: "berth-shop-production-web", Image: "berth/shop:old", Labels: { ...labels("production"), "berth.role": "web" } });

    const report = await reconcileOnce(w.reconcilerDeps());

    expect(report.strays).toEqual(["gone/pr-2", "shop/pr-9"]);
    expect(w.host.find(stray)).toBeUndefined();
    expect(w.host.find(orphan)).toBeUndefined();
    expect(w.host.networks.has("berth-shop-pr-9")).toBe(false);
    expect(w.host.volumes.has("berth-shop-pr-9-data")).toBe(false);
    expect(w.host.find(production)).toBeDefined();
    expect((await resourcesOf(app, "pr-5")).containers.map((c) => c.running)).toEqual([true]);
    expect(w.host.find(PROXY_CONTAINER)?.running).toBe(true);
    expect(caddyfile()).toContain("http://shop-pr-5.berth.test {");
  });

  it("recreates a missing proxy with every live route, and starts a stopped one, without a push", async () => {
    const app = await w.app("shop");
    await livePreview(app, 5, sha("c5"));
    w.github.openPulls.set("acme/shop", new Set([5]));
    await w.host.removeContainer(PROXY_CONTAINER);

    await reconcileOnce(w.reconcilerDeps());
    expect(w.host.find(PROXY_CONTAINER)?.running).toBe(true);
    expect(caddyfile()).toContain("http://shop-pr-5.berth.test {");

    await w.host.stopContainer(PROXY_CONTAINER, 1);
    await reconcileOnce(w.reconcilerDeps());
    expect(w.host.find(PROXY_CONTAINER)?.running).toBe(true);
  });

  it("records live, in one pass, a release whose process died after its switch, drains the old one, and the job's retry then does nothing", async () => {
    const app = await w.app("shop");
    const build = async (commit: string) => {
      w.fetcher.trees.set(commit, { Dockerfile: DOCKERFILE });
      const d = await w.deployment(app, { sha: commit });
      expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
      return d;
    };
    const first = await build(sha("f1"));
    expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");
    const second = await build(sha("f2"));
    await w.diesAfterSwitch(second);

    const report = await reconcileOnce(w.reconcilerDeps());
    expect(report).toMatchObject({ finished: [second.id], drained: [expect.stringContaining("-web-")] });
    expect(await w.get(second.id)).toMatchObject({ state: "live", url: "http://shop.berth.test" });
    expect((await w.get(first.id)).state).toBe("replaced");
    expect((await w.releasesOf(app.id)).map((r) => [r.deployment_id, r.state])).toEqual([
      [first.id, "stopped"],
      [second.id, "live"],
    ]);
    expect(await w.logOf(second.id)).toContain("finished by the reconciler");
    await w.drain();
    expect(w.github.checkRunFor(sha("f2")).conclusion).toBe("success");
    expect(w.github.deploymentsFor(sha("f2"))[0]?.statuses.at(-1)?.state).toBe("success");

    // BullMQ hands the dead process's job back later: it finds the deployment live and leaves it.
    const created = w.host.created.length;
    expect(await runRelease(w.releaseDeps(), second.id)).toBe("skipped");
    expect(w.host.created.length).toBe(created);
    expect((await reconcileOnce(w.reconcilerDeps())).finished).toEqual([]);
  });

  it("leaves a preview alone when its pull request reopened after a teardown was decided, and tears down once", async () => {
    const app = await w.app("shop");
    await livePreview(app, 6, sha("b6"));
    await closeEnvironment(w.db, app.id, "pr-6", "closed");
    // The reopen lands between the reconciler reading its pending teardowns and taking the lock.
    await openPreview(w.db, { appId: app.id, name: "pr-6", prNumber: 6, headSha: sha("b6"), headRepo: app.repo_full_name, fork: false });
    expect(await teardownEnvironment(w.reconcilerDeps(), app, "pr-6", "removed", "closed")).toBe(false);
    expect((await resourcesOf(app, "pr-6")).containers.map((c) => c.running)).toEqual([true]);

    await closeEnvironment(w.db, app.id, "pr-6", "closed");
    expect(await teardownEnvironment(w.reconcilerDeps(), app, "pr-6", "removed", "closed")).toBe(true);
    expect(await teardownEnvironment(w.reconcilerDeps(), app, "pr-6", "removed", "closed")).toBe(false); // the close's job and a pass: one teardown
    expect((await resourcesOf(app, "pr-6")).containers).toEqual([]);
  });

  it("keeps the image of a build that a reopen started while the close's teardown ran, and tears down at the next close", async () => {
    const app = await w.app("shop");
    const first = await livePreview(app, 6, sha("b6"));
    await closeEnvironment(w.db, app.id, "pr-6", "closed");
    let rebuilt: Deployment | undefined;
    const listManaged = w.host.listManaged.bind(w.host);
    // Reopened at the same head and built again while the teardown removes the old containers.
    w.host.listManaged = async (labels) => {
      if (!rebuilt) {
        await openPreview(w.db, { appId: app.id, name: "pr-6", prNumber: 6, headSha: sha("b6"), headRepo: app.repo_full_name, fork: false });
        rebuilt = await w.deployment(app, { sha: sha("b6"), environment: "pr-6" });
        expect(await runBuild(w.buildDeps(), rebuilt.id)).toBe("built");
      }
      return listManaged(labels);
    };
    expect(await teardownEnvironment(w.reconcilerDeps(), app, "pr-6", "removed", "closed")).toBe(true);
    w.host.listManaged = listManaged;

    expect(w.host.images.has(first.image ?? "")).toBe(false);
    const again = await w.get(rebuilt!.id);
    expect(again.image).not.toBe(first.image);
    expect(w.host.images.has(again.image ?? "")).toBe(true);
    expect(await runRelease(w.releaseDeps(), again.id)).toBe("live");
    expect((await getEnvironment(w.db, app.id, "pr-6"))?.torn_down_at).toBeNull(); // the reopened preview is not marked torn down

    await closeEnvironment(w.db, app.id, "pr-6", "closed");
    expect(await teardownEnvironment(w.reconcilerDeps(), app, "pr-6", "removed", "closed")).toBe(true);
    expect((await resourcesOf(app, "pr-6")).containers).toEqual([]);
    expect(w.host.images.has(again.image ?? "")).toBe(false);
  });
});
