import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { staticSite, withSlowStep } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { apiDeployments, completedCheck } from "../support/harness-queries.js";
import { startPrivateDockerd, type PrivateDockerd } from "../support/private-dockerd.js";
import { getVia, waitFor } from "../support/services.js";

/**
 * The droid's Docker engine restarted under a running berth: an engine of this file's own (never the
 * machine's shared one), stopped with SIGTERM as an operator or a package upgrade stops it, and
 * started again on the same data root. Asserted where users see it: the ingress and GitHub.
 */
describe("chaos: the Docker engine restarted", () => {
  let dockerd: PrivateDockerd;
  let h: Harness;
  const RECONCILE_SECONDS = 2;

  const runningWeb = async () => dockerd.docker.listContainers({ filters: JSON.stringify({ label: [`berth.app=${h.app}`, "berth.role=web"], status: ["running"] }) });
  const served = async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body;
  const serves = async (body: string) => (await served()) === body;
  /** The web container: started by Docker at this time, with its health. */
  const webState = async () => {
    const [c] = await runningWeb();
    const s = c && (await dockerd.docker.getContainer(c.Id).inspect()).State;
    return c && s ? { id: c.Id, startedAt: s.StartedAt, health: s.Health?.Status } : undefined;
  };

  beforeAll(async () => {
    dockerd = await startPrivateDockerd();
    dockerd.load(["berth-standin/busybox:latest", "berth-standin/caddy:2"]);
    h = await startHarness({ BERTH_DOCKER_HOST: dockerd.url, BERTH_RECONCILE_INTERVAL: String(RECONCILE_SECONDS), BERTH_DRAIN_SECONDS: "1" }, 3);
  }, 180_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== "fail" && !process.env.CHAOS_LOG) return;
    // What berth saw and did, then what the engine holds.
    const engine = await dockerd.docker.listContainers({ all: true }).catch((e: Error) => e.message);
    writeFileSync(join(tmpdir(), "berth-chaos-dockerd.log"), `${h?.berth.output() ?? ""}\n--- containers ---\n${JSON.stringify(engine, null, 1)}\n`);
  });

  afterAll(async () => {
    await h?.stop();
    await dockerd?.destroy();
  }, 120_000);

  it("brings the app back through the ingress, heals it afterwards, and ends the build the restart cut", async () => {
    // Healthy while /tmp/ok exists: a Docker HEALTHCHECK that berth's autoheal watches.
    const body = "served across an engine restart\n";
    const site = staticSite(body);
    const files = {
      ...site,
      Dockerfile: site.Dockerfile!.replace(/CMD .*/, 'CMD ["sh", "-c", "touch /tmp/ok && exec httpd -f -p 8080 -h /www"]'),
      "berth.yaml": 'web:\n  healthcheck: { command: ["test", "-f", "/tmp/ok"], interval: 1s }\n',
    };
    let before = h.repo.head;
    const live = h.repo.commit(files, "live before the restart");
    expect((await h.push(live, before)).status).toBe(200);
    expect((await completedCheck(h, live)).conclusion).toBe("success");
    await waitFor("served", () => serves(body), 30_000);

    // A build in its slow step when the engine goes away.
    const built = "built across an engine restart\n";
    before = h.repo.head;
    const cut = h.repo.commit(withSlowStep({ ...files, "index.html": built }, 14), "build cut by the restart");
    expect((await h.push(cut, before)).status).toBe(200);
    await waitFor("build running", async () => (await apiDeployments(h)).find((d) => d.sha === cut)?.state === "building", 30_000);
    await waitFor("source fetched", () => h.github.gitAuth.length > 1, 30_000, 50);
    await new Promise((r) => setTimeout(r, 1500));

    const fetches = h.github.gitAuth.length;
    const stoppingAt = Date.now();
    await dockerd.stop();
    const stoppedAt = Date.now();
    expect(await serves(body)).toBe(false); // the engine took the proxy and the app down with it
    await dockerd.start();
    const backAt = Date.now();
    await waitFor("the app served through the ingress again", async () => [body, built].includes((await served()) ?? ""), 60_000, 100);
    const servedAt = Date.now();
    console.log(`dockerd restarted: stopped in ${stoppedAt - stoppingAt} ms, up again ${backAt - stoppedAt} ms later; the app served ${servedAt - backAt} ms after the engine was back`);
    expect(h.berth.child.exitCode).toBeNull();
    expect((await dockerd.docker.getContainer(h.proxy).inspect()).State.Running).toBe(true);

    // The build the restart cut is not the Dockerfile's failure: retried once the engine answers
    // again (its source fetched anew), it goes live; its check run never stays in progress.
    const check = await completedCheck(h, cut, 120_000);
    console.log(`dockerd restarted: the cut build's check run concluded ${check.conclusion} ${Date.now() - backAt} ms after the engine was back: ${check.output?.title}`);
    expect(h.github.checkRunsFor(cut).every((c) => c.status === "completed")).toBe(true);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(h.github.gitAuth.length).toBeGreaterThan(fetches);
    expect((await apiDeployments(h)).find((d) => d.sha === cut)?.state).toBe("live");
    await waitFor("the retried build served", () => serves(built), 30_000);

    // Autoheal after the restart: the health command starts failing, berth restarts the container.
    const sick = await waitFor("a healthy web container", async () => ((await webState())?.health === "healthy" ? webState() : undefined), 30_000);
    await dockerd.docker.getContainer(sick.id).exec({ Cmd: ["rm", "/tmp/ok"] }).then((e) => e.start({ Detach: true }));
    const brokeAt = Date.now();
    await waitFor("autoheal to restart the web container", async () => (await webState())?.startedAt !== sick.startedAt, 60_000, 200);
    await waitFor("healthy and served again", async () => (await webState())?.health === "healthy" && (await serves(built)), 30_000);
    console.log(`dockerd restarted: autoheal restarted the unhealthy web container ${Date.now() - brokeAt} ms after its health command began to fail`);
    expect(h.berth.output()).toContain("autoheal: restarting unhealthy container");

    // The web server's process killed: the restarted engine's restart policy brings it back, and the route by name still finds it.
    const healthy = (await webState())!;
    await dockerd.docker.getContainer(healthy.id).exec({ Cmd: ["sh", "-c", "kill -9 $(pidof httpd)"] }).then((e) => e.start({ Detach: true }));
    const killedAt = Date.now();
    await waitFor("the killed web container restarted and served", async () => (await webState())?.startedAt !== healthy.startedAt && (await serves(built)), 60_000, 100);
    console.log(`dockerd restarted: the web server killed afterwards was served again ${Date.now() - killedAt} ms later`);
  }, 300_000);
});
