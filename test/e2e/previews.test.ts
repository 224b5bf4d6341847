import pg from "pg";
import { execFileSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { containersOf, docker } from "../support/docker-cleanup.js";
import { staticSite } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";

/** Every Docker object berth made for one environment of the app. */
async function resourcesOf(app: string, environment: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`berth.app=${app}`, `berth.environment=${environment}`] });
  const [c, n, v] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters }), docker.listVolumes({ filters })]);
  return [...c.map((x) => `container ${x.Names[0]}`), ...n.map((x) => `network ${x.Name}`), ...(v.Volumes ?? []).map((x) => `volume ${x.Name}`)];
}

const processRunning = (pattern: string): boolean => {
  try {
    execFileSync("pgrep", ["-f", pattern], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
};

describe("pull request previews, end to end", () => {
  let h: Harness;
  const previewHost = (n: number) => `${h.app}-pr-${n}.localhost`;
  const body = async (n: number) => (await getVia(h.ingressPort, previewHost(n)).catch(() => undefined))?.body;
  const completed = (sha: string) =>
    waitFor(`check run on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 100);
  const commentOn = (n: number) => h.github.commentsOn(n).filter((c) => c.body.includes("<!-- berth -->"));
  /**
   * Opens PR n with a static site and waits until its preview is served and its comment says live:
   * the known state a test starts from. Every test uses PR numbers of its own, so any runs alone (`-t`).
   */
  const openPreview = async (n: number, site: string): Promise<string> => {
    const sha = h.repo.commitToPull(n, staticSite(site));
    expect((await h.pull({ action: "opened", number: n, head: sha })).status).toBe(200);
    expect((await completed(sha)).conclusion).toBe("success");
    await waitFor(`preview ${n} served`, async () => (await body(n)) === site);
    await waitFor(`preview ${n} comment live`, () => commentOn(n)[0]?.body.includes("live"));
    return sha;
  };

  beforeAll(async () => {
    h = await startHarness({ BERTH_RECONCILE_INTERVAL: "2" });
    h.repo.commit(staticSite("production\n"), "base");
  });

  // A failure prints what berth said and what it recorded: a race seen once in CI is read from there.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    const rows = async (q: string) => JSON.stringify((await db.query(q)).rows);
    const recorded = [await rows("select id, environment, sha, state, error from deployments order by id"), await rows("select id, name, state, torn_down_at from environments order by id"), await rows("select deployment_id, environment, state from releases order by id")];
    await db.end();
    console.log(`--- berth's log (tail) ---\n${h.berth.output().split("\n").slice(-80).join("\n")}\n--- recorded ---\n${recorded.join("\n")}`);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("opens a preview at <app>-pr-<N> with a transient Deployment and one comment", async () => {
    const sha = h.repo.commitToPull(1, staticSite("preview one\n"));
    expect((await h.pull({ action: "opened", number: 1, head: sha })).status).toBe(200);
    expect((await completed(sha)).conclusion).toBe("success");
    await waitFor("preview served", async () => (await body(1)) === "preview one\n");
    const url = `http://${previewHost(1)}:${h.ingressPort}`;
    // The concluded check run goes to GitHub first; the Deployment's statuses follow on later turns.
    const deployment = await waitFor("Deployment success", () => h.github.deploymentsFor(sha).find((d) => d.statuses.at(-1)?.state === "success"));
    expect(deployment).toMatchObject({ environment: "pr-1", production_environment: false, transient_environment: true });
    // A newer status replaces one not yet sent (GitHub takes a write a second): in_progress may not have gone out.
    expect(deployment?.statuses.map((s) => s.state).join()).toMatch(/^(in_progress,)?success$/);
    expect(deployment?.statuses.at(-1)?.environment_url).toBe(url);
    const comments = await waitFor("live comment", () => {
      const c = commentOn(1);
      return c.length === 1 && c[0]?.body.includes("live") ? c : undefined;
    });
    expect(comments[0]?.body).toContain(`[${url}](${url})`);
    expect(comments[0]?.body).toContain(`\`${sha.slice(0, 7)}\``);
    const web = (await containersOf(h.app)).find((c) => c.Labels["berth.environment"] === "pr-1");
    expect(web?.Labels["berth.role"]).toBe("web");
  });

  it("serves the new head after synchronize and edits the same comment", async () => {
    await openPreview(3, "preview one\n");
    const sha = h.repo.commitToPull(3, staticSite("preview two\n"));
    await h.pull({ action: "synchronize", number: 3, head: sha });
    expect((await completed(sha)).conclusion).toBe("success");
    await waitFor("new head served", async () => (await body(3)) === "preview two\n");
    const comments = await waitFor("comment edited to the new sha", () => {
      const c = commentOn(3);
      return c[0]?.body.includes(sha.slice(0, 7)) && c[0].body.includes("live") ? c : undefined;
    });
    expect(comments).toHaveLength(1);
    // Edited in place (states not yet sent when a newer one came are merged into one edit).
    expect(comments[0]?.edits).toBeGreaterThanOrEqual(1);
    expect((await getVia(h.ingressPort, `${h.app}.localhost`)).status).toBe(404); // production was never pushed
  });

  it("cancels the older of two quick pushes: its build process stops and only the newest is released", async () => {
    await openPreview(4, "before two quick pushes\n");
    const slow = h.repo.commitToPull(4, { ...staticSite("slow\n"), Dockerfile: "FROM berth-standin/busybox:latest\nRUN sleep 397\nCOPY index.html /www/index.html\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n" });
    await h.pull({ action: "synchronize", number: 4, head: slow });
    await waitFor("slow build running", () => processRunning("sleep 39[7]"), 60_000, 50);
    const fast = h.repo.commitToPull(4, staticSite("fast\n"));
    const started = performance.now();
    await h.pull({ action: "synchronize", number: 4, head: fast });
    await waitFor("superseded build process gone", () => !processRunning("sleep 39[7]"), 30_000, 20);
    const stoppedMs = performance.now() - started;
    console.log(`synchronize → superseded build process exited: ${stoppedMs.toFixed(0)}ms`);
    const cancelled = await completed(slow);
    expect(cancelled.conclusion).toBe("cancelled");
    expect(cancelled.output?.title).toBe(`Superseded by ${fast.slice(0, 7)}`);
    expect((await completed(fast)).conclusion).toBe("success");
    await waitFor("fast served", async () => (await body(4)) === "fast\n");
    expect(h.github.deploymentsFor(slow).flatMap((d) => d.statuses.map((s) => s.state))).not.toContain("success");
  });

  it("builds one app's previews one at a time, in the order they were opened (BERTH_APP_BUILD_CONCURRENCY=1)", async () => {
    const slowSite = (n: number) => ({ ...staticSite(`queued ${n}\n`), Dockerfile: `FROM berth-standin/busybox:latest\nRUN sleep 1 && echo ${n}-${Date.now()}\nCOPY index.html /www/index.html\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n` });
    const shas = [31, 32, 33].map((n) => h.repo.commitToPull(n, slowSite(n)));
    await Promise.all([31, 32, 33].map((n, i) => h.pull({ action: "opened", number: n, head: shas[i]! })));
    for (const sha of shas) expect((await completed(sha)).conclusion).toBe("success");
    type Row = { id: number; environment: string; sha: string; startedAt: string; builtAt: string };
    const rows = ((await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: "Bearer e2e-admin-token" } })).json()) as Row[])
      .filter((r) => shas.includes(r.sha))
      .sort((a, b) => a.id - b.id); // the order berth recorded the deliveries in
    expect(rows).toHaveLength(3); // one deployment per PR
    const byStart = [...rows].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    expect(byStart.map((r) => r.environment)).toEqual(rows.map((r) => r.environment)); // FIFO: started in arrival order
    for (let i = 1; i < byStart.length; i++) {
      // The next build of the app starts only once the one before it was built.
      expect(Date.parse(byStart[i]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(byStart[i - 1]!.builtAt));
    }
    await Promise.all([31, 32, 33].map((n, i) => h.pull({ action: "closed", number: n, head: shas[i]! })));
  });

  it("removes everything of the preview when the PR closes and marks its Deployment inactive", async () => {
    const head = await openPreview(5, "to be closed\n");
    expect((await resourcesOf(h.app, "pr-5")).length).toBeGreaterThan(0);
    const started = performance.now();
    await h.pull({ action: "closed", number: 5, head, merged: true });
    await waitFor("preview resources gone", async () => (await resourcesOf(h.app, "pr-5")).length === 0, 60_000, 50);
    console.log(`closed → last preview resource gone: ${(performance.now() - started).toFixed(0)}ms`);
    expect((await getVia(h.ingressPort, previewHost(5))).status).toBe(404);
    await waitFor("deployment inactive", () => h.github.deploymentsFor(head)[0]?.statuses.at(-1)?.state === "inactive");
    await waitFor("comment says removed", () => commentOn(5)[0]?.body.includes("removed"));
    expect(commentOn(5)).toHaveLength(1);
  });

  it("brings the preview back when the PR is reopened", async () => {
    const head = await openPreview(6, "closed and reopened\n");
    await h.pull({ action: "closed", number: 6, head });
    await waitFor("preview gone", async () => (await resourcesOf(h.app, "pr-6")).length === 0, 60_000);
    await h.pull({ action: "reopened", number: 6, head });
    await waitFor("preview back", async () => (await body(6)) === "closed and reopened\n", 120_000);
  });

  it("repairs a missed close and strays from a crash through the reconciler", async () => {
    const head = await openPreview(7, "closed while nobody listened\n");
    // PR 7 closes on GitHub but the webhook never arrives.
    h.github.pulls.set(7, { state: "closed", head });
    // A crash halfway through some earlier teardown left a labelled container and network behind.
    const net = await docker.createNetwork({ Name: `berth-${h.app}-pr-99`, Labels: { "berth.managed": "true", "berth.instance": h.instance, "berth.app": h.app, "berth.environment": "pr-99" } });
    const stray = await docker.createContainer({
      name: `berth-${h.app}-pr-99-web-stray`,
      Image: "berth-standin/busybox:latest",
      Cmd: ["sleep", "600"],
      Labels: { "berth.managed": "true", "berth.instance": h.instance, "berth.app": h.app, "berth.environment": "pr-99", "berth.role": "web" },
      HostConfig: { NetworkMode: net.id, Init: true },
    });
    await stray.start();
    // The same leftovers of another installation on this engine (a live berth beside the tests) are not this berth's to remove.
    const theirs = await docker.createContainer({
      name: `berth-${h.app}-pr-98-web-theirs`,
      Image: "berth-standin/busybox:latest",
      Cmd: ["sleep", "600"],
      Labels: { "berth.managed": "true", "berth.instance": "berth-someone-else", "berth.app": h.app, "berth.environment": "pr-98", "berth.role": "web" },
      HostConfig: { Init: true },
    });
    await waitFor("reconciler removed pr-7 and pr-99", async () => (await resourcesOf(h.app, "pr-7")).length + (await resourcesOf(h.app, "pr-99")).length === 0, 60_000, 200);
    expect((await theirs.inspect()).Id).toBe(theirs.id);
    await theirs.remove({ force: true });
    expect((await getVia(h.ingressPort, previewHost(7))).status).toBe(404);
  });

  it("does not build a fork's PR until a writer labels it, and asks again after a new push", async () => {
    const first = h.repo.commitToPull(2, staticSite("fork one\n"));
    await h.pull({ action: "opened", number: 2, head: first, fork: "mallory/hello" });
    const waiting = await completed(first);
    expect(waiting.conclusion).toBe("neutral");
    expect(waiting.output?.summary).toContain("add the label `berth:preview`");
    await waitFor("waiting comment", () => commentOn(2)[0]?.body.includes("waiting for approval"));
    expect(await resourcesOf(h.app, "pr-2")).toEqual([]);

    // A triager can label, but cannot approve running the code: the label goes again.
    h.github.roles.set("tri", "triage");
    await h.pull({ action: "labeled", number: 2, head: first, fork: "mallory/hello", sender: "tri" });
    await waitFor("label removed", () => !h.github.labels.get(2)?.has("berth:preview"));
    expect(await resourcesOf(h.app, "pr-2")).toEqual([]);

    h.github.roles.set("maintainer", "write");
    await h.pull({ action: "labeled", number: 2, head: first, fork: "mallory/hello", sender: "maintainer" });
    await waitFor("fork preview served", async () => (await body(2)) === "fork one\n", 120_000);

    const second = h.repo.commitToPull(2, staticSite("fork two, unreviewed\n"));
    await h.pull({ action: "synchronize", number: 2, head: second, fork: "mallory/hello" });
    expect((await completed(second)).conclusion).toBe("neutral");
    expect(h.github.labels.get(2)?.has("berth:preview")).toBe(false);
    await waitFor("comment asks again", () => commentOn(2)[0]?.body.includes("approval label was removed"));
    expect(await body(2)).toBe("fork one\n"); // the reviewed code keeps serving
  });
});
