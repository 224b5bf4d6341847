import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { runRelease } from "../../releaser/release/workflow.js";
import { CADDYFILE_PATH, PROXY_CONTAINER } from "../../releaser/proxy-plan.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import type { App, Db, Deployment } from "../../store/db.js";
import { closeEnvironment, openPreview } from "../../store/environment-store.js";
import { envOf } from "../support/fakes/fake-docker-host.js";
import type { FileTree } from "../support/fakes/fake-source-fetcher.js";
import { PROXY_IMAGE, WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const DOCKERFILE = "FROM node:20\nEXPOSE 8080\n";

/** Where the proxy's whole config sends a hostname, read from the Caddyfile it was given. */
function upstreamOf(w: WorkflowWorld, hostname: string): string | undefined {
  const caddyfile = w.host.find(PROXY_CONTAINER)?.files.get(CADDYFILE_PATH) ?? "";
  return new RegExp(`^http://${hostname.replace(/\./g, "\\.")} \\{\\n\\treverse_proxy (\\S+) \\{`, "m").exec(caddyfile)?.[1];
}

const berthVars = (env: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("BERTH_")));

// Simulated time: a test that waits for real time has hung, so it fails fast.
describe("runRelease (real Postgres, fake engine)", { timeout: 10_000 }, () => {
  let db: Db;
  let w: WorkflowWorld;
  let app: App;
  let n = 0;

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    db = w.db;
    app = await w.app(`web${++n}`);
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  /** A deployment of this tree, built by the real runBuild (so its manifest is stored as in production). */
  async function built(commit: string, tree: FileTree = { Dockerfile: DOCKERFILE }, environment = "production"): Promise<Deployment> {
    w.fetcher.trees.set(commit, tree);
    const d = await w.deployment(app, { sha: commit, environment });
    expect(await runBuild(w.buildDeps(), d.id)).toBe("built");
    return w.get(d.id);
  }

  const webOf = (d: Deployment) => w.host.withLabels({ "berth.deployment": String(d.id), "berth.role": "web" });

  it("starts the new container, routes the hostname to it, then drains and replaces the previous release", async () => {
    const first = await built(sha("a1"));
    expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");

    const url = `http://${app.name}.berth.test`;
    expect(await w.get(first.id)).toMatchObject({ state: "live", url });
    const [firstWeb] = webOf(first);
    expect(firstWeb).toMatchObject({ running: true, image: `berth/${app.name}:${sha("a1")}-${first.id}`, name: `berth-${app.name}-production-web-${sha("a1").slice(0, 7)}-${first.id}` });
    expect([...firstWeb!.networks]).toEqual([`berth-${app.name}-production`]);
    expect(envOf(firstWeb!.options)).toMatchObject({ PORT: "8080", BERTH_APP: app.name, BERTH_ENVIRONMENT: "production", BERTH_SHA: sha("a1"), BERTH_URL: url });
    expect(w.host.networks.get(`berth-${app.name}-production`)).toEqual({ "berth.managed": "true", "berth.app": app.name, "berth.environment": "production" });
    const proxy = w.host.find(PROXY_CONTAINER);
    expect(proxy?.running).toBe(true);
    expect(proxy?.networks.has(`berth-${app.name}-production`)).toBe(true);
    expect(upstreamOf(w, `${app.name}.berth.test`)).toBe(`${firstWeb!.name}:8080`);
    expect(w.host.execs.at(-1)).toEqual({ container: PROXY_CONTAINER, argv: ["caddy", "reload", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"] });

    const second = await built(sha("a2"));
    const sleepsBefore = w.clock.sleeps.length;
    expect(await runRelease(w.releaseDeps(), second.id)).toBe("live");

    const [secondWeb] = webOf(second);
    expect(secondWeb?.running).toBe(true);
    expect(upstreamOf(w, `${app.name}.berth.test`)).toBe(`${secondWeb!.name}:8080`);
    expect(w.host.find(firstWeb!.id)).toBeUndefined(); // drained, then removed
    expect(w.clock.sleeps.slice(sleepsBefore)).toContain(5_000); // the drain, in simulated time
    expect((await w.releasesOf(app.id)).map((r) => [r.deployment_id, r.state])).toEqual([
      [first.id, "stopped"],
      [second.id, "live"],
    ]);
    expect((await w.get(first.id)).state).toBe("replaced");
    expect((await w.get(second.id)).state).toBe("live");

    await w.drain();
    const check = w.github.checkRunFor(sha("a2"));
    expect(check.conclusion).toBe("success");
    expect(check.output?.title).toBe(`Live at ${url}`);
    expect(check.output?.summary).toContain(`**${app.name}** \`${sha("a2").slice(0, 7)}\` is live in \`production\` at ${url}`);
    const statuses = w.github.deploymentsFor(sha("a2"))[0]?.statuses;
    expect(statuses?.map((s) => s.state)).toEqual(["success"]); // in_progress was superseded before it was sent
    expect(statuses?.[0]?.environmentUrl).toBe(url);
  });

  it("fails when the new container never answers, in simulated time, and the previous release keeps serving", async () => {
    const first = await built(sha("b1"));
    expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");
    const [firstWeb] = webOf(first);
    const second = await built(sha("b2"));
    w.host.onStart = (c) => {
      if (c.labels["berth.sha"] === sha("b2")) c.logs = "listening on 127.0.0.1:3000\n";
    };
    w.host.http = (c) => (c.labels["berth.sha"] === sha("b2") ? undefined : 200);
    const started = w.clock.now();

    expect(await runRelease(w.releaseDeps(), second.id)).toBe("failed");

    expect(w.clock.now() - started).toBeGreaterThanOrEqual(30_000); // the whole health timeout passed, simulated
    const error = "The new container did not become healthy: no healthy answer from port 8080 (/) within 30s; last: no answer. Check that the app listens on 0.0.0.0:8080.";
    expect(await w.get(second.id)).toMatchObject({ state: "failed", error });
    expect(webOf(second)).toEqual([]); // the new container was removed
    expect(w.host.removed).toContain(`berth-${app.name}-production-web-${sha("b2").slice(0, 7)}-${second.id}`);
    expect(w.host.find(firstWeb!.id)?.running).toBe(true);
    expect(upstreamOf(w, `${app.name}.berth.test`)).toBe(`${firstWeb!.name}:8080`);
    expect((await w.releasesOf(app.id)).map((r) => [r.deployment_id, r.state])).toEqual([
      [first.id, "live"],
      [second.id, "failed"],
    ]);
    expect((await w.get(first.id)).state).toBe("live");

    await w.drain();
    const check = w.github.checkRunFor(sha("b2"));
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Release failed: the new container never became healthy");
    expect(check.output?.summary).toContain(error);
    expect(check.output?.summary).toContain(`The previous release keeps serving http://${app.name}.berth.test.`);
    expect(check.output?.text).toContain("listening on 127.0.0.1:3000");
  });

  it("finishes a release whose process died after the switch, without starting another container", async () => {
    const first = await built(sha("c1"));
    expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");
    const second = await built(sha("c2"));
    // The process dies right after the switch: the deployment's own "live" never reaches Postgres.
    await w.diesAfterSwitch(second);
    expect((await w.get(second.id)).state).toBe("releasing");
    expect((await w.releasesOf(app.id)).map((r) => [r.deployment_id, r.state])).toEqual([
      [first.id, "draining"],
      [second.id, "live"],
    ]);
    const [secondWeb] = webOf(second);
    const createdBefore = w.host.created.length;

    // The queue's retry.
    expect(await runRelease(w.releaseDeps(), second.id)).toBe("live");

    expect(w.host.created.length).toBe(createdBefore);
    expect(webOf(second)).toEqual([secondWeb]);
    expect(secondWeb?.running).toBe(true);
    expect(webOf(first)).toEqual([]);
    expect((await w.releasesOf(app.id)).map((r) => [r.deployment_id, r.state])).toEqual([
      [first.id, "stopped"],
      [second.id, "live"],
    ]);
    expect(await w.get(second.id)).toMatchObject({ state: "live", url: `http://${app.name}.berth.test` });
    expect((await w.get(first.id)).state).toBe("replaced");
    await w.drain();
    expect(w.github.checkRunFor(sha("c2")).conclusion).toBe("success");
  });

  it("re-applies routes on the retry when berth died between the switch and the proxy reload", async () => {
    const first = await built(sha("k1"));
    expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");
    const firstWeb = webOf(first)[0]!.name;
    const caddyfileBefore = w.host.find(PROXY_CONTAINER)!.files.get(CADDYFILE_PATH)!;
    const second = await built(sha("k2"));
    // berth dies once the switch is committed: the deployment's own "live" never reaches Postgres ...
    await w.diesAfterSwitch(second);
    // ... and, as when it dies before the reload, Caddy still routes to the old container.
    w.host.find(PROXY_CONTAINER)!.files.set(CADDYFILE_PATH, caddyfileBefore);
    expect(upstreamOf(w, `${app.name}.berth.test`)).toBe(`${firstWeb}:8080`);

    // The retry runs in a new process, whose proxy has seen nothing loaded: it must route to the new
    // release before it drains the old one.
    const order: string[] = [];
    w.host.onExec = (c, argv) => {
      if (c.name === PROXY_CONTAINER && argv.includes("reload")) order.push(`reload -> ${upstreamOf(w, `${app.name}.berth.test`)}`);
      return { exitCode: 0, output: "" };
    };
    const restarted = new IngressProxy(w.host, { image: PROXY_IMAGE, httpPort: 80, httpsPort: 443 }, false, w.log);
    expect(await runRelease(w.releaseDeps({ proxy: restarted }), second.id)).toBe("live");
    const secondWeb = webOf(second)[0]!.name;
    expect(order).toEqual([`reload -> ${secondWeb}:8080`]);
    expect(w.host.removed).toContain(firstWeb);
    expect(upstreamOf(w, `${app.name}.berth.test`)).toBe(`${secondWeb}:8080`);
  });

  it("skips a built commit a newer one supersedes, and says so on its check run", async () => {
    const older = await built(sha("d1"));
    const newer = await w.deployment(app, { sha: sha("d2") });

    expect(await runRelease(w.releaseDeps(), older.id)).toBe("skipped");

    expect(await w.get(older.id)).toMatchObject({ state: "cancelled", error: `A newer commit (\`${sha("d2").slice(0, 7)}\`) for \`production\` arrived before this one was released.` });
    expect(webOf(older)).toEqual([]);
    expect(w.host.created).toEqual([]);
    expect((await w.get(newer.id)).state).toBe("queued");
    await w.drain();
    const check = w.github.checkRunFor(sha("d1"));
    expect(check.conclusion).toBe("cancelled");
    expect(check.output?.title).toBe(`Superseded by ${sha("d2").slice(0, 7)}`);
  });

  it("skips a preview whose pull request closed after it was built", async () => {
    await openPreview(db, { appId: app.id, name: "pr-3", prNumber: 3, headSha: sha("d3"), headRepo: app.repo_full_name, fork: false });
    const d = await built(sha("d3"), { Dockerfile: DOCKERFILE }, "pr-3");
    await closeEnvironment(db, app.id, "pr-3", "closed");

    expect(await runRelease(w.releaseDeps(), d.id)).toBe("skipped");

    expect(await w.get(d.id)).toMatchObject({ state: "cancelled", error: "`pr-3` was closed before this commit was released." });
    expect(w.host.created).toEqual([]);
  });

  describe("name: in berth.yaml", () => {
    const manifest = (name: string) =>
      [
        `name: ${name}`,
        "web:",
        "  port: 8080",
        "processes:",
        "  worker: { command: \"rq worker\", healthcheck: { command: [\"true\"] } }",
        "release: [\"python\", \"manage.py\", \"migrate\"]",
        "env: { GREETING: hello }",
        "",
      ].join("\n");

    it("renames the app, and web, processes and the release command all see the new name", async () => {
      const d = await built(sha("e1"), { Dockerfile: DOCKERFILE, "berth.yaml": manifest(`store${n}`) });

      expect(await runRelease(w.releaseDeps(), d.id)).toBe("live");

      const renamed = await w.appById(app.id);
      expect([renamed.name, renamed.public_name]).toEqual([app.name, `store${n}`]);
      const url = `http://store${n}.berth.test`;
      expect(await w.get(d.id)).toMatchObject({ state: "live", url });
      expect((await w.releasesOf(app.id))[0]?.hostname).toBe(`store${n}.berth.test`);
      expect(await w.logOf(d.id)).toContain(`app renamed from ${app.name} to store${n} (berth.yaml name): production moves to store${n}.berth.test`);

      const expected = { BERTH_APP: `store${n}`, BERTH_ENVIRONMENT: "production", BERTH_SHA: sha("e1"), BERTH_URL: url };
      const [web] = webOf(d);
      const [worker] = w.host.withLabels({ "berth.deployment": String(d.id), "berth.role": "process" });
      const [releaseCommand] = w.host.runs;
      expect(web?.name).toBe(`berth-${app.name}-production-web-${sha("e1").slice(0, 7)}-${d.id}`); // Docker names keep the first name
      expect(worker?.options.Cmd).toEqual(["rq", "worker"]);
      expect(releaseCommand?.options.Cmd).toEqual(["python", "manage.py", "migrate"]);
      expect(berthVars(envOf(web!.options))).toEqual(expected);
      expect(berthVars(envOf(worker!.options))).toEqual(expected);
      expect(berthVars(envOf(releaseCommand!.options))).toEqual(expected);
      for (const options of [web!.options, worker!.options, releaseCommand!.options]) expect(envOf(options).GREETING).toBe("hello");
      expect(upstreamOf(w, `store${n}.berth.test`)).toBe(`${web!.name}:8080`);
      await w.drain();
      expect(w.github.checkRunFor(sha("e1")).output?.title).toBe(`Live at ${url}`);
    });

    it("gives the old name back when the renaming release fails, and the old hostname keeps serving", async () => {
      const first = await built(sha("f1"));
      expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");
      const [firstWeb] = webOf(first);
      const d = await built(sha("f2"), { Dockerfile: DOCKERFILE, "berth.yaml": manifest(`renamed${n}`) });
      w.host.onRunOnce = () => ({ exitCode: 3, output: "django.db.utils.OperationalError: no such table\n" });

      expect(await runRelease(w.releaseDeps(), d.id)).toBe("failed");

      expect((await w.appById(app.id)).public_name).toBeNull();
      expect(await w.get(d.id)).toMatchObject({ state: "failed", error: "The release command `python manage.py migrate` exited with 3; nothing was switched." });
      expect(webOf(d)).toEqual([]);
      expect(upstreamOf(w, `${app.name}.berth.test`)).toBe(`${firstWeb!.name}:8080`);
      expect(upstreamOf(w, `renamed${n}.berth.test`)).toBeUndefined();
      expect((await w.get(first.id)).state).toBe("live");
      await w.drain();
      const check = w.github.checkRunFor(sha("f2"));
      expect(check.conclusion).toBe("failure");
      expect(check.output?.text).toContain("django.db.utils.OperationalError: no such table");
    });

    // The previous release still answers at the old name, so that is the URL the check run gives.
    it("tells the user the old hostname still serves when the renaming release fails", async () => {
      const first = await built(sha("f4"));
      expect(await runRelease(w.releaseDeps(), first.id)).toBe("live");
      const d = await built(sha("f5"), { Dockerfile: DOCKERFILE, "berth.yaml": manifest(`moved${n}`) });
      w.host.onRunOnce = () => ({ exitCode: 3, output: "migration failed\n" });

      expect(await runRelease(w.releaseDeps(), d.id)).toBe("failed");

      await w.drain();
      const summary = w.github.checkRunFor(sha("f5")).output?.summary;
      expect(summary).toContain(`The previous release keeps serving http://${app.name}.berth.test.`);
    });

    it("refuses a name another app holds before anything starts", async () => {
      const other = await w.app(`taken${n}`);
      const d = await built(sha("f3"), { Dockerfile: DOCKERFILE, "berth.yaml": manifest(other.name) });

      expect(await runRelease(w.releaseDeps(), d.id)).toBe("failed");

      const error = `name: ${other.name} in berth.yaml is already the name of acme/${other.name}'s app on this berth; choose another name. The app keeps its current name until then.`;
      expect(await w.get(d.id)).toMatchObject({ state: "failed", error });
      expect((await w.appById(app.id)).public_name).toBeNull();
      expect(w.host.created).toEqual([]);
      await w.drain();
      expect(w.github.checkRunFor(sha("f3")).output?.title).toBe("Release failed before the switch");
    });
  });
});
