import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, docker } from "../support/docker-cleanup.js";
import { staticSite } from "../support/git-repo.js";
import { startHarness, WEBHOOK_SECRET, type Harness } from "../support/harness.js";
import { pageKey } from "../../core/page-key.js";
import { Sensitive } from "../../core/sensitive.js";
import { startPoller } from "../support/poller.js";
import { getVia, waitFor } from "../support/services.js";
import { deliver, pushPayload } from "../support/webhooks.js";

describe("push to deploy, end to end", () => {
  let h: Harness;
  const completedCheck = (sha: string) =>
    waitFor(`check run on ${sha.slice(0, 7)} to complete`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 200);
  type Row = { id: number; sha: string; state: string; image: string | null; rollbackOf: number | null; startedAt: string; builtAt: string };
  const deployments = async () => (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: "Bearer e2e-admin-token" } })).json()) as Row[];
  /**
   * Pushes a static site and waits until it is served: the known state a test starts from, so that any
   * test runs alone (`-t`). Also the marker of the tests that check a delivery did nothing (see there).
   */
  const deploy = async (body: string): Promise<string> => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite(body), `deploy ${body.trim()}`);
    expect((await h.push(sha, before)).status).toBe(200);
    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor(`${JSON.stringify(body)} served`, async () => (await getVia(h.ingressPort, h.host)).body === body);
    return sha;
  };

  const imageTags = async () =>
    (await docker.listImages({ filters: JSON.stringify({ label: [`berth.app=${h.app}`] }) })).flatMap((i) => i.RepoTags ?? []).sort();

  beforeAll(async () => {
    h = await startHarness({ BERTH_KEEP_IMAGES: "2", BERTH_BUILD_PROGRESS_INTERVAL: "1s" });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("deploys a push to the default branch and reports a green check and a Deployment with its URL", async () => {
    const sha = h.repo.commit(staticSite("version one\n"), "v1");
    const res = await h.push(sha, "0000000000000000000000000000000000000000");
    expect(res.status).toBe(200);

    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(check.name).toBe("berth");
    expect(check.details_url).toMatch(new RegExp(`^${h.berth.url}/deployments/\\d+\\?key=[0-9a-f]{24}$`));
    // States a newer one overtook before GitHub's turn came are never sent: at least the outcome goes.
    expect(check.history.map((u) => u.conclusion ?? u.status).filter(Boolean).join()).toMatch(/^(queued,)?(in_progress,)?success$/);

    const url = `http://${h.host}:${h.ingressPort}`;
    expect(check.output?.summary).toContain(url);
    // The concluded check run goes to GitHub first; the Deployment's statuses follow on later turns.
    const deployment = await waitFor("Deployment success", () => h.github.deploymentsFor(sha).find((d) => d.statuses.at(-1)?.state === "success"));
    expect(deployment).toMatchObject({ environment: "production", production_environment: true, transient_environment: false });
    expect(deployment.statuses.map((s) => s.state).join()).toMatch(/^(in_progress,)?success$/);
    expect(deployment.statuses.at(-1)?.environment_url).toBe(url);
    expect(deployment.statuses.at(-1)?.log_url).toBe(check.details_url);

    expect(await getVia(h.ingressPort, h.host)).toEqual({ status: 200, body: "version one\n" });
    // The source was fetched with the installation token over git.
    expect(h.github.gitAuth).toContain("x-access-token:ghs_fake_77");

    const page = await fetch(check.details_url ?? "");
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain("live");
    expect(html).toContain(`berth/${h.app}:${sha}-`);
    // Without the key (or a signed-in reader) every id answers alike, a way to sign in: private build
    // logs are not enumerable.
    const bare = (check.details_url ?? "").replace(/\?key=.*/, "");
    for (const url of [bare, `${bare}?key=${"0".repeat(24)}`, bare.replace(/\d+$/, "99999999")]) {
      const refused = await fetch(url, { redirect: "manual" });
      expect(refused.status).toBe(303);
      expect(refused.headers.get("location")).toMatch(/^\/\?next=%2Fdeployments%2F\d+/);
    }
  });

  it("does not build a redelivered webhook twice", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite("delivered twice\n"), "redelivered");
    const id = `redelivery-${sha.slice(0, 8)}`;
    expect((await h.push(sha, before, { deliveryId: id })).status).toBe(200);
    expect((await completedCheck(sha)).conclusion).toBe("success");
    // The webhook middleware answers 200 only after the handler returned (a slow one gets 202), so the
    // redelivery's recording is done here. What it could have set off after that is asynchronous: a
    // build, or a check run. The marker is a later push of the same app through the same handler. Its
    // build starts only once the app's earlier builds ended (one build slot per app, dispatched in push
    // order), so a second build of sha would have run first; a second check run would have been queued
    // seconds before the marker's completes. Not a proof for the check run, but no race a sleep would win.
    expect(await h.push(sha, before, { deliveryId: id })).toMatchObject({ status: 200, body: "ok\n" });
    await deploy("after the redelivery\n");
    expect((await deployments()).filter((d) => d.sha === sha)).toHaveLength(1);
    expect(h.github.checkRunsFor(sha)).toHaveLength(1);
    expect(h.github.deploymentsFor(sha)).toHaveLength(1);
  });

  it("replaces the release on the next push while a poller sees no failed request", async () => {
    await deploy("version one\n");
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite("version two\n"), "v2");
    const poll = startPoller(h.ingressPort, h.host);
    await h.push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor("v2 served", async () => (await getVia(h.ingressPort, h.host)).body === "version two\n");
    // Keep polling through the drain and removal of the old container.
    await new Promise((r) => setTimeout(r, 2500));
    const stats = await poll.stop();
    console.log(`redeploy under load: ${stats.ok} ok, ${stats.failures} failed, ${stats.retried} resent after a keep-alive close race`);
    expect(stats.failures, stats.errors.slice(0, 5).join("\n")).toBe(0);
    expect(stats.bodies.has("version one\n")).toBe(true);
    expect(stats.bodies.has("version two\n")).toBe(true);
    expect(stats.ok).toBeGreaterThan(50);
    const running = (await containersOf(h.app)).filter((c) => c.Labels["berth.role"] === "web");
    expect(running.map((c) => c.Labels["berth.sha"])).toEqual([sha]);
  });

  it("streams the log and state of a running deployment as server-sent events", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite("streamed\n"), "streamed");
    await h.push(sha, before);
    // The page a check run links to, opened while the build runs (the check run itself may be written
    // to GitHub only once it concluded, when GitHub's pace made berth merge its states).
    const id = await waitFor("deployment recorded", async () => (await deployments()).find((d) => d.sha === sha)?.id, 30_000, 20);
    const res = await fetch(`${h.berth.url}/deployments/${id}/events?key=${pageKey(new Sensitive(WEBHOOK_SECRET), id)}`);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const stream = await res.text(); // ends once the deployment reached its final state
    const states = [...stream.matchAll(/event: state\ndata: (\w+)/g)].map((m) => m[1]);
    expect(states.at(-1)).toBe("live");
    expect(states.length).toBeGreaterThan(1); // it was followed while running, not read afterwards
    expect(stream).toMatch(/\ndata: Step 1\/\d+ : FROM berth-standin\/busybox:latest\n/);
    expect(stream).toContain(`data: ==> `);
  });

  it("shows a running build's step and log tail on its check run, at most once a second (BERTH_BUILD_PROGRESS_INTERVAL=1s)", async () => {
    const before = h.repo.head;
    const site = staticSite("slow steps\n");
    const sha = h.repo.commit({ ...site, Dockerfile: site.Dockerfile!.replace("\nCOPY", `\nRUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick $i-${Date.now()}; sleep 1; done\nCOPY`) }, "slow steps");
    await h.push(sha, before);
    const run = await waitFor("check run completed", () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 60_000, 100);
    expect(run.conclusion).toBe("success");
    const progress = run.history.map((u) => u.output as { title: string; text?: string } | undefined).filter((o) => o?.text?.includes("Build log (last lines"));
    // GitHub writes of one installation are spaced a second apart, progress comes after every other
    // write, and updates waiting behind them are coalesced to the newest: a 12 s build shows a few.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.some((o) => /^Building [0-9a-f]{7} · step 2\/\d+: RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick .* · \d+s$/.test(o!.title))).toBe(true);
    expect(progress.some((o) => /tick ([2-9]|1[0-2])-/.test(o!.text!))).toBe(true);
    const row = (await deployments()).find((r) => r.sha === sha)!;
    const buildSeconds = (Date.parse(row.builtAt) - Date.parse(row.startedAt)) / 1000;
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(buildSeconds) + 1);
  });

  it("reuses the cached dependency layer when a push changes only the source", async () => {
    const dockerfile = (body: string) => ({
      ...staticSite(body),
      Dockerfile: `FROM berth-standin/busybox:latest\nCOPY deps.txt /deps.txt\nRUN sleep 1 && echo installed $(cat /deps.txt) > /installed\nCOPY index.html /www/index.html\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
      "deps.txt": `deps-${h.app}\n`,
    });
    const logOf = async (sha: string) => {
      const check = await waitFor("check run completed", () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 60_000, 100);
      expect(check.conclusion).toBe("success");
      return (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    };
    let before = h.repo.head;
    const cold = h.repo.commit(dockerfile("cache one\n"), "deps");
    await h.push(cold, before);
    const coldLog = await logOf(cold);
    expect(coldLog).toMatch(/Step 3\/\d+ : RUN sleep 1[^\n]*\n ---> Running in/);
    before = h.repo.head;
    const warm = h.repo.commit({ "index.html": "cache two\n" }, "source only");
    await h.push(warm, before);
    const warmLog = await logOf(warm);
    expect(warmLog).toMatch(/Step 3\/\d+ : RUN sleep 1[^\n]*\n ---> Using cache\n/);
    expect(warmLog).toMatch(/Step 4\/\d+ : COPY index.html \/www\/index.html\n ---> [0-9a-f]{12}\n/); // changed: rebuilt
    await waitFor("warm build served", async () => (await getVia(h.ingressPort, h.host)).body === "cache two\n");
  });

  it("prunes the app's old images, keeping those of the last releases (BERTH_KEEP_IMAGES=2)", async () => {
    const first = await deploy("prune one\n");
    const second = await deploy("prune two\n");
    const third = await deploy("prune three\n");
    const rows = await deployments();
    const imageOf = (sha: string) => rows.find((d) => d.sha === sha)?.image;
    expect(imageOf(first)).toBeTruthy();
    // Pruning follows the drain of the release before, a moment after the check run turned green.
    await waitFor("old images pruned", async () => (await imageTags()).length === 2);
    expect(await imageTags()).toEqual([imageOf(second), imageOf(third)].sort());
  });

  it("fails the check run of a broken Dockerfile with its log and keeps the old version serving", async () => {
    await deploy("before a broken Dockerfile\n");
    const before = h.repo.head;
    const sha = h.repo.commit({ Dockerfile: "FROM berth-standin/busybox:latest\nRUN echo about to fail && exit 3\n" }, "broken");
    await h.push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Build failed");
    expect(check.output?.summary).toContain("returned a non-zero code: 3");
    expect(check.output?.summary).toContain("The previous release keeps serving");
    expect(check.output?.text).toContain("about to fail");
    // A newer status replaces one not yet sent (GitHub takes a write a second): in_progress may not have gone out.
    const deployment = await waitFor("Deployment failure", () => h.github.deploymentsFor(sha).find((d) => d.statuses.at(-1)?.state === "failure"));
    expect(deployment.statuses.map((s) => s.state).join()).toMatch(/^(in_progress,)?failure$/);
    expect(await getVia(h.ingressPort, h.host)).toEqual({ status: 200, body: "before a broken Dockerfile\n" });
  });

  it("fails a release whose container never answers, with the container's log, and keeps the old version", async () => {
    await deploy("before a silent container\n");
    const before = h.repo.head;
    const sha = h.repo.commit(
      { Dockerfile: 'FROM berth-standin/busybox:latest\nEXPOSE 8080\nCMD ["sh", "-c", "echo cannot open database; sleep 60"]\n' },
      "never healthy",
    );
    await h.push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toContain("never became healthy");
    expect(check.output?.text).toContain("cannot open database");
    expect(await getVia(h.ingressPort, h.host)).toEqual({ status: 200, body: "before a silent container\n" });
    const web = (await containersOf(h.app)).filter((c) => c.Labels["berth.role"] === "web");
    expect(web).toHaveLength(1);
  });

  it("fails a repository without a Dockerfile clearly when the builder host has no pack", async () => {
    await deploy("before the Dockerfile went\n");
    const before = h.repo.head;
    const sha = h.repo.commit({ Dockerfile: null, "index.html": "no dockerfile\n" }, "no dockerfile");
    await h.push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("the `pack` CLI is not installed on the builder host");
    expect(await getVia(h.ingressPort, h.host)).toEqual({ status: 200, body: "before the Dockerfile went\n" });
  });

  it("refuses forged and unsigned webhooks and changes nothing", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite("forged\n"), "forged");
    const forged = await deliver(h.hookUrl, "push", pushPayload(h.facts, before, sha), "not-the-secret");
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    const unsigned = await deliver(h.hookUrl, "push", pushPayload(h.facts, before, sha), null);
    expect(unsigned.status).toBe(400);
    // Marker: a signed push through the same middleware and handler. Had either delivery above been
    // accepted, its deployment would have been recorded before its answer came back (the middleware
    // answers after the handler), and its check run queued seconds before the marker's completes.
    await deploy("signed, after the forgeries\n");
    expect((await deployments()).map((d) => d.sha)).not.toContain(sha);
    expect(h.github.checkRunsFor(sha)).toEqual([]);
    expect(h.github.deploymentsFor(sha)).toEqual([]);
    // Without its key, any id (known or not) is asked to sign in: logs stay unenumerable.
    expect((await fetch(`${h.berth.url}/deployments/999999`, { redirect: "manual" })).status).toBe(303);
  });

  it("stores secrets encrypted through the API and the CLI, and lists only their names", async () => {
    await deploy("an app to keep secrets for\n"); // the app exists from its first push on
    const api = `${h.berth.url}/api/v1/apps/${h.app}/secrets`;
    const auth = { authorization: "Bearer e2e-admin-token", "content-type": "application/json" };
    expect((await fetch(api, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const put = await fetch(`${api}/DB_PASSWORD`, { method: "PUT", headers: auth, body: JSON.stringify({ value: "s3cr3t-value" }) });
    expect(put.status).toBe(204);
    const bad = await fetch(`${api}/db-password`, { method: "PUT", headers: auth, body: JSON.stringify({ value: "x" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain("upper case letters");
    const cli = execFileSync("node", ["dist/cli/berth.js", "secrets", "set", h.app, "API_KEY"], {
      input: "from-stdin\n",
      encoding: "utf8",
      env: { ...process.env, BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: "e2e-admin-token" },
    });
    expect(cli.trim()).toBe(`set API_KEY for ${h.app}`);
    const listed = (await (await fetch(api, { headers: auth })).json()) as { name: string }[];
    expect(listed.map((s) => s.name)).toEqual(["API_KEY", "DB_PASSWORD"]);
    expect(JSON.stringify(listed)).not.toContain("s3cr3t-value");
    expect(h.berth.output()).not.toContain("s3cr3t-value");
    expect(h.berth.output()).not.toContain("from-stdin");
  });

  it("ignores branch deletions and pushes to other branches and tags", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite("not on main\n"), "feature work");
    // 200 is the middleware's answer once the handler returned (see the redelivery test); the marker below
    // shows that a push handled after these ones is built and released while these left no trace.
    expect((await h.push(sha, before, { deleted: true })).status).toBe(200); // the default branch itself
    expect((await h.push(sha, before, { ref: "refs/heads/feature" })).status).toBe(200);
    expect((await h.push(sha, before, { ref: "refs/tags/v1" })).status).toBe(200);
    await deploy("after the ignored pushes\n");
    const recorded = (await deployments()).map((d) => d.sha);
    expect(recorded).not.toContain(sha);
    expect(recorded).not.toContain("0".repeat(40)); // what a deletion's `after` says
    expect(h.github.checkRunsFor(sha)).toEqual([]);
  });

  it("rolls production back to the previous release, reports it on that commit, and refuses what cannot be rolled back to", async () => {
    const auth = { authorization: "Bearer e2e-admin-token", "content-type": "application/json" };
    const list = deployments;
    const rollback = (body?: unknown) => fetch(`${h.berth.url}/api/v1/apps/${h.app}/rollback`, { method: "POST", headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
    // A release whose image gets pruned (BERTH_KEEP_IMAGES=2), a build that fails, the release to go back to.
    await deploy("version one\n");
    const good = h.repo.head;
    const broken = h.repo.commit({ Dockerfile: "FROM berth-standin/busybox:latest\nRUN exit 3\n" }, "broken");
    await h.push(broken, good);
    expect((await completedCheck(broken)).conclusion).toBe("failure");
    const two = await deploy("version two\n");
    await deploy("version three\n");
    // The success check run goes out before the old release's drain ends: wait for version two to be replaced.
    const previous = await waitFor("version two replaced", async () => (await list()).find((r) => r.sha === two && r.state === "replaced" && r.image !== null));

    const poll = startPoller(h.ingressPort, h.host);
    const res = await rollback();
    expect(res.status).toBe(202);
    const started = (await res.json()) as Row;
    expect(started).toMatchObject({ sha: previous.sha, rollbackOf: previous.id, state: "releasing" });
    await waitFor("rolled back", async () => (await getVia(h.ingressPort, h.host)).body === "version two\n");
    await waitFor("rollback live", async () => (await list()).find((r) => r.id === started.id)?.state === "live");
    const stats = await poll.stop();
    expect(stats.failures, stats.errors.slice(0, 5).join("\n")).toBe(0);
    const check = await waitFor("rollback check run", () =>
      h.github.checkRunsFor(previous.sha).find((c) => c.status === "completed" && c.details_url?.includes(`/deployments/${started.id}?`)),
    );
    expect(check.conclusion).toBe("success");
    // Its in-progress state says what is happening, when GitHub's pace let it go out before the outcome.
    const progress = check.history.filter((u) => u.status === "in_progress" && (u.output as { title?: string } | undefined)?.title);
    for (const u of progress) expect((u.output as { title?: string }).title).toBe(`Rolling back to ${previous.sha.slice(0, 7)}`);
    const deployment = await waitFor("rollback Deployment success", () => {
      const d = h.github.deploymentsFor(previous.sha).at(-1);
      return d?.statuses.at(-1)?.state === "success" ? d : undefined;
    });
    const statuses = deployment?.statuses.map((st) => [st.state, st.description]) ?? [];
    expect(statuses.at(-1)).toEqual(["success", `Live: ${previous.sha.slice(0, 7)}`]);
    // The in_progress status goes out only if GitHub took it before the outcome replaced it.
    expect(statuses.slice(0, -1)).toEqual(statuses.length > 1 ? [["in_progress", `Rolling back to ${previous.sha.slice(0, 7)}`]] : []);
    const log = await (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    expect(log).toContain(`rolling back to ${previous.image} (deployment ${previous.id})`);

    // What production runs already, a deployment that never went live, a malformed request.
    expect((await rollback({ deployment: started.id })).status).toBe(409);
    const failed = (await list()).find((r) => r.state === "failed")!;
    expect((await rollback({ deployment: failed.id })).status).toBe(404);
    expect((await fetch(`${h.berth.url}/api/v1/apps/${h.app}/rollback`, { method: "POST", headers: auth, body: "{oops" })).status).toBe(400);

    // An image pruned long ago (BERTH_KEEP_IMAGES=2): the rollback fails on GitHub and production keeps serving.
    const oldest = (await list()).filter((r) => r.state === "replaced" && r.rollbackOf === null).at(-1)!;
    await waitFor("oldest image pruned", async () => !(await imageTags()).includes(oldest.image ?? ""));
    const gone = (await (await rollback({ deployment: oldest.id })).json()) as Row;
    await waitFor("pruned rollback failed", async () => (await list()).find((r) => r.id === gone.id)?.state === "failed");
    const refused = await waitFor("pruned rollback reported", () =>
      h.github.checkRunsFor(oldest.sha).find((c) => c.status === "completed" && c.details_url?.includes(`/deployments/${gone.id}?`)),
    );
    expect(refused?.output?.title).toBe("Rollback failed: the image is gone");
    expect(refused?.output?.summary).toContain("is no longer on the droid server");
    expect((await getVia(h.ingressPort, h.host)).body).toBe("version two\n");
  });
});
