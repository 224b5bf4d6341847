import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appPrivateKey, startBerth, type BerthProcess } from "../support/berth-process.js";
import { containersOf, removeApp, removeContainer } from "../support/docker-cleanup.js";
import { FakeGitHub } from "../support/fake-github.js";
import { TestRepo, staticSite } from "../support/git-repo.js";
import { freePort, freshDatabase, freshRedis, getVia, uniqueName, waitFor } from "../support/services.js";
import { deliver, pushPayload, type RepoFacts } from "../support/webhooks.js";

const SECRET = "e2e-webhook-secret";

describe("push to deploy, end to end", () => {
  const gitRoot = mkdtempSync(join(tmpdir(), "berth-git-"));
  const github = new FakeGitHub(gitRoot);
  const app = uniqueName("hello-");
  let repo: TestRepo;
  let facts: RepoFacts;
  let berth: BerthProcess;
  let ingressPort: number;
  let dropDb: () => Promise<void>;
  let hookUrl: string;
  const host = () => `${app}.localhost`;

  const push = async (sha: string, before: string, opts: { deliveryId?: string; ref?: string; deleted?: boolean } = {}) =>
    deliver(hookUrl, "push", pushPayload(facts, before, sha, opts), SECRET, opts.deliveryId);

  const completedCheck = (sha: string) =>
    waitFor(`check run on ${sha.slice(0, 7)} to complete`, () => github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 200);

  beforeAll(async () => {
    await removeContainer("berth-proxy");
    await github.start();
    repo = new TestRepo(gitRoot, "octo-org", app);
    facts = { owner: "octo-org", name: app, id: 4242, cloneUrl: github.cloneUrl("octo-org", app), defaultBranch: "main", installationId: 77 };
    const db = await freshDatabase();
    dropDb = db.drop;
    ingressPort = await freePort();
    const port = await freePort();
    berth = await startBerth(
      {
        APP_ID: "12345",
        PRIVATE_KEY: appPrivateKey(),
        WEBHOOK_SECRET: SECRET,
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
        DATABASE_URL: db.url,
        REDIS_URL: await freshRedis(9),
        BERTH_DOMAIN: "localhost",
        BERTH_INGRESS_HTTP_PORT: String(ingressPort),
        BERTH_INGRESS_HTTPS_PORT: String(await freePort()),
        BERTH_PROXY_IMAGE: "berth-standin/caddy:2",
        BERTH_PUBLIC_URL: `http://127.0.0.1:${port}`,
        BERTH_HEALTH_TIMEOUT: "8",
        BERTH_DRAIN_SECONDS: "1",
        LOG_LEVEL: "info",
      },
      port,
    );
    hookUrl = `${berth.url}/api/github/webhooks`;
  });

  afterAll(async () => {
    await berth?.stop();
    await github.stop();
    await removeApp(app);
    await removeContainer("berth-proxy");
    await dropDb?.();
    repo?.cleanup();
    rmSync(gitRoot, { recursive: true, force: true });
  });

  it("deploys a push to the default branch and reports a green check and a Deployment with its URL", async () => {
    const sha = repo.commit(staticSite("version one\n"), "v1");
    const res = await push(sha, "0000000000000000000000000000000000000000");
    expect(res.status).toBe(200);

    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(check.name).toBe("berth");
    expect(check.details_url).toMatch(new RegExp(`^${berth.url}/deployments/\\d+$`));
    expect(check.history.map((h) => h.conclusion ?? h.status).filter(Boolean)).toEqual(["queued", "in_progress", "success"]);

    const url = `http://${host()}:${ingressPort}`;
    expect(check.output?.summary).toContain(url);
    const [deployment] = github.deploymentsFor(sha);
    expect(deployment).toMatchObject({ environment: "production", production_environment: true, transient_environment: false });
    expect(deployment?.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
    expect(deployment?.statuses[1]?.environment_url).toBe(url);
    expect(deployment?.statuses[1]?.log_url).toBe(check.details_url);

    expect(await getVia(ingressPort, host())).toEqual({ status: 200, body: "version one\n" });
    // The source was fetched with the installation token over git.
    expect(github.gitAuth).toContain("x-access-token:ghs_fake_77");

    const page = await fetch(check.details_url ?? "");
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain("live");
    expect(html).toContain(`berth/${app}:${sha}`);
  });

  it("does not build a redelivered webhook twice", async () => {
    const before = github.checkRuns.size;
    const sha = repo.head;
    const id = "redelivery-" + sha.slice(0, 8);
    expect((await push(sha, sha, { deliveryId: id })).status).toBe(200);
    await completedCheck(sha);
    const after = github.checkRuns.size;
    expect((await push(sha, sha, { deliveryId: id })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(github.checkRuns.size).toBe(after);
    expect(after).toBe(before + 1);
  });

  it("replaces the release on the next push while a poller sees no failed request", async () => {
    const before = repo.head;
    const sha = repo.commit(staticSite("version two\n"), "v2");
    const poll = startPoller(ingressPort, host());
    await push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor("v2 served", async () => (await getVia(ingressPort, host())).body === "version two\n");
    // Keep polling through the drain and removal of the old container.
    await new Promise((r) => setTimeout(r, 2500));
    const stats = await poll.stop();
    expect(stats.failures, stats.errors.slice(0, 5).join("\n")).toBe(0);
    expect(stats.bodies.has("version one\n")).toBe(true);
    expect(stats.bodies.has("version two\n")).toBe(true);
    expect(stats.ok).toBeGreaterThan(50);
    const running = (await containersOf(app)).filter((c) => c.Labels["berth.role"] === "web");
    expect(running.map((c) => c.Labels["berth.sha"])).toEqual([sha]);
  });

  it("fails the check run of a broken Dockerfile with its log and keeps the old version serving", async () => {
    const before = repo.head;
    const sha = repo.commit({ Dockerfile: "FROM berth-standin/busybox:latest\nRUN echo about to fail && exit 3\n" }, "broken");
    await push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Build failed");
    expect(check.output?.summary).toContain("returned a non-zero code: 3");
    expect(check.output?.summary).toContain("The previous release keeps serving");
    expect(check.output?.text).toContain("about to fail");
    const [deployment] = github.deploymentsFor(sha);
    expect(deployment?.statuses.map((s) => s.state)).toEqual(["in_progress", "failure"]);
    expect(await getVia(ingressPort, host())).toEqual({ status: 200, body: "version two\n" });
  });

  it("fails a release whose container never answers, with the container's log, and keeps the old version", async () => {
    const before = repo.head;
    const sha = repo.commit(
      { Dockerfile: 'FROM berth-standin/busybox:latest\nEXPOSE 8080\nCMD ["sh", "-c", "echo cannot open database; sleep 60"]\n' },
      "never healthy",
    );
    await push(sha, before);
    const check = await completedCheck(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toContain("never became healthy");
    expect(check.output?.text).toContain("cannot open database");
    expect(await getVia(ingressPort, host())).toEqual({ status: 200, body: "version two\n" });
    const web = (await containersOf(app)).filter((c) => c.Labels["berth.role"] === "web");
    expect(web).toHaveLength(1);
  });

  it("refuses forged and unsigned webhooks and changes nothing", async () => {
    const before = github.checkRuns.size;
    const sha = repo.commit(staticSite("forged\n"), "forged");
    const forged = await deliver(hookUrl, "push", pushPayload(facts, repo.head, sha), "not-the-secret");
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    const unsigned = await deliver(hookUrl, "push", pushPayload(facts, repo.head, sha), null);
    expect(unsigned.status).toBe(400);
    await new Promise((r) => setTimeout(r, 1000));
    expect(github.checkRuns.size).toBe(before);
    const list = await fetch(`${berth.url}/deployments/999999`);
    expect(list.status).toBe(404);
    expect(await getVia(ingressPort, host())).toEqual({ status: 200, body: "version two\n" });
  });

  it("ignores branch deletions and pushes to other branches", async () => {
    const before = github.checkRuns.size;
    expect((await push(repo.head, repo.head, { ref: "refs/heads/feature", deleted: true })).status).toBe(200);
    expect((await push(repo.head, repo.head, { ref: "refs/heads/feature" })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(github.checkRuns.size).toBe(before);
  });
});

interface PollStats {
  ok: number;
  failures: number;
  errors: string[];
  bodies: Set<string>;
}

/** Requests the app through the ingress back to back (keep-alive and fresh connections) until stopped. */
function startPoller(port: number, host: string): { stop: () => Promise<PollStats> } {
  const stats: PollStats = { ok: 0, failures: 0, errors: [], bodies: new Set() };
  let running = true;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const once = (agent: http.Agent | false) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/", headers: { host }, agent, timeout: 5000 }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          if (res.statusCode === 200) {
            stats.ok++;
            stats.bodies.add(body);
          } else {
            stats.failures++;
            stats.errors.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
          }
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e) => {
        stats.failures++;
        stats.errors.push(e.message);
        resolve();
      });
    });
  const loops = [keepAlive, false as const].map(async (agent) => {
    const deadline = Date.now() + 120_000; // bounded even if stop() is never called
    while (running && Date.now() < deadline) {
      await once(agent);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      keepAlive.destroy();
      return stats;
    },
  };
}
