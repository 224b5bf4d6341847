import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { containersOf, docker } from "../support/docker-cleanup.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { startPoller } from "../support/poller.js";
import { getVia, waitFor } from "../support/services.js";

const APP_SH = `#!/bin/sh
mkdir -p /www/health /data
n=$(cat /data/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/count
redis=$(printf 'GET migrated-by\\r\\n' | nc -w 1 redis 6379 | tail -n 1 | tr -d '\\r')
printf '%s\\n' "greeting=$GREETING" "secret=$API_KEY" "cache=$CACHE_HOST" "starts=$n" "migrated=$(cat /data/migrated 2>/dev/null)" "redis=$redis" "version=$VERSION" > /www/index.html
echo ok > /www/health/index.html
exec httpd -f -p 9090 -h /www
`;

const MANIFEST = `web:
  port: 9090
  command: ["sh", "/app.sh"]
  healthcheck: { path: /health/, timeout: 20s }
  volumes: ["data:/data"]
processes:
  worker:
    command: "sh -c 'touch /tmp/ok; echo worker up; exec sleep 3600'"
    replicas: 2
    healthcheck: { command: ["test", "-e", "/tmp/ok"], interval: 1s }
  docs:
    command: "sh -c 'mkdir -p /d/docs && echo docs-$VERSION > /d/docs/index.html && exec httpd -f -p 7070 -h /d'"
release: ["sh", "-c", "echo migrating; wget -q -O /data/migrated http://cache:7000/ && printf 'SET migrated-by release\\r\\n' | nc -w 1 redis 6379"]
services:
  redis:
    image: berth-standin/redis:7
    healthcheck: { command: ["redis-cli", "ping"] }
  cache:
    image: berth-standin/busybox:latest
    command: ["sh", "-c", "exec httpd -f -p 7000 -h /w"]
    files: { /w/index.html: deploy/cache-page.txt, /w/cache/index.html: deploy/cache-page.txt }
    healthcheck: { command: ["test", "-e", "/w/index.html"] }
volumes: { data: {} }
routes:
  - { path: /cache/*, to: "cache:7000" }
  - { path: /docs/*, to: "docs:7070" }
env:
  GREETING: hello
  API_KEY: "\${secret.API_KEY}"
  CACHE_HOST: "\${service.cache.host}"
secrets: [API_KEY]
previews:
  env: { GREETING: hello preview }
`;

const files = (version: string, manifest = MANIFEST): Record<string, string> => ({
  Dockerfile: `FROM berth-standin/busybox:latest\nCOPY app.sh /app.sh\nENV VERSION=${version}\nEXPOSE 8080\n`,
  "app.sh": APP_SH,
  "berth.yaml": manifest,
  "deploy/cache-page.txt": "cache-ok\n",
});

const PACK_STANDIN = fileURLToPath(new URL("../support/pack-standin", import.meta.url));
const packLog = join(tmpdir(), `berth-pack-${process.pid}.log`);

describe("berth.yaml apps, end to end", () => {
  let h: Harness;
  const page = async (host: string) => (await getVia(h.ingressPort, host).catch(() => undefined))?.body ?? "";
  const completed = (sha: string) => waitFor(`check on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 100);
  const workers = async (env: string) =>
    (await docker.listContainers({ filters: JSON.stringify({ label: [`berth.app=${h.app}`, `berth.environment=${env}`, "berth.process=worker"] }) })).map((c) => c.Labels["berth.sha"]);
  const serviceId = async (env: string) =>
    (await docker.listContainers({ filters: JSON.stringify({ label: [`berth.app=${h.app}`, `berth.environment=${env}`, "berth.service=cache"] }) }))[0]?.Id;

  const secretUrl = () => `${h.berth.url}/api/v1/apps/${h.app}/secrets/API_KEY`;
  const setSecret = async () => {
    const put = await fetch(secretUrl(), { method: "PUT", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ value: "k-123" }) });
    expect(put.status).toBe(204);
  };
  const startsOf = (body: string) => Number(/\nstarts=(\d+)\n/.exec(body)?.[1]);
  /**
   * Sets API_KEY and releases files(version) to production, waiting until it is served under the app's
   * own name and only the new workers run: the known state a test starts from, so any runs alone (`-t`).
   */
  const release = async (version: string, manifest = MANIFEST) => {
    await setSecret();
    const before = h.repo.head;
    const sha = h.repo.commit(files(version, manifest), `release ${version}`);
    await h.push(sha, before);
    const check = await completed(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    const host = `${h.app}.localhost`;
    const body = await waitFor(`version=${version} served`, async () => ((await page(host)).includes(`version=${version}\n`) ? page(host) : undefined));
    await waitFor("old workers retired", async () => (await workers("production")).every((w) => w === sha), 30_000);
    return { sha, check, body };
  };

  beforeAll(async () => {
    h = await startHarness({ BERTH_RECONCILE_INTERVAL: "1", PATH: `${PACK_STANDIN}:${process.env.PATH}`, PACK_STANDIN_LOG: packLog });
    // berth knows an app from its first push on; only then can its secrets be set.
    const first = h.repo.commit(files("0"), "first push");
    await h.push(first, "0".repeat(40));
    await completed(first);
  });
  // A request dropped during a release (seen once in CI) is read next to what berth did then.
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") console.log(`--- berth's log (tail) ---\n${h.berth.output().split("\n").slice(-120).join("\n")}`);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("fails before starting anything when a declared secret is not set, saying how to set it", async () => {
    expect([204, 404]).toContain((await fetch(secretUrl(), { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status);
    const running = async () => (await containersOf(h.app)).filter((c) => c.Labels["berth.environment"] === "production").map((c) => c.Id).sort();
    const was = await running();
    const before = h.repo.head;
    const sha = h.repo.commit(files("1"), "manifest app");
    await h.push(sha, before);
    const check = await completed(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain(`berth.yaml needs secret API_KEY, not set for ${h.app}. Set it with \`berth secrets set ${h.app} API_KEY\``);
    expect(await running()).toEqual(was); // nothing started, nothing stopped
  });

  it("runs services, the release command, env with secrets and service hosts, and the web command on its port", async () => {
    const { sha, check, body } = await release("2");
    // starts counts the releases on the data volume, which the next test checks.
    expect(body).toBe(`greeting=hello\nsecret=k-123\ncache=cache\nstarts=${startsOf(body)}\nmigrated=cache-ok\nredis=release\nversion=2\n`);
    // Process containers start after web is switched, and the check run can conclude before they did.
    const readLog = async () => (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    const log = await waitFor("the workers started", async () => ((await readLog()).includes("started 2 × worker") ? readLog() : undefined), 30_000, 200);
    expect(log).toContain("running release command: sh -c echo migrating");
    expect(log).toContain("migrating");
    expect(log).not.toContain("k-123");
    expect(log).toContain("started 2 × worker");
    // A path route sends /cache/* to the cache service; everything else stays on web.
    expect((await getVia(h.ingressPort, `${h.app}.localhost`, "/cache/")).body).toBe("cache-ok\n");
    expect(await workers("production")).toEqual([sha, sha]);
  });

  it("keeps volume data and an unchanged service across releases", async () => {
    const starts = startsOf((await release("2")).body);
    const service = await serviceId("production");
    expect(service).toBeDefined();
    const before = h.repo.head;
    const sha = h.repo.commit(files("3"), "next release");
    // Requests to web and, through a path route, to a process keep being answered through the switch.
    const polls = [startPoller(h.ingressPort, `${h.app}.localhost`), startPoller(h.ingressPort, `${h.app}.localhost`, "/docs/")];
    await h.push(sha, before);
    expect((await completed(sha)).conclusion).toBe("success");
    const body = await waitFor("v3", async () => ((await page(`${h.app}.localhost`)).includes("version=3") ? page(`${h.app}.localhost`) : undefined));
    await waitFor("old web and processes retired", async () => (await workers("production")).every((w) => w === sha), 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // keep polling past the drain
    const [web, docs] = await Promise.all(polls.map((p) => p.stop()));
    console.log(`web + processes release under load: web ${web!.ok} ok / ${web!.failures} failed, /docs/ ${docs!.ok} ok / ${docs!.failures} failed`);
    expect(web!.failures, web!.errors.slice(0, 5).join("\n")).toBe(0);
    expect(docs!.failures, docs!.errors.slice(0, 5).join("\n")).toBe(0);
    expect([...docs!.bodies].sort()).toEqual(["docs-2\n", "docs-3\n"]);
    expect(web!.ok + docs!.ok).toBeGreaterThan(100);
    expect(startsOf(body)).toBe(starts + 1);
    expect(await serviceId("production")).toBe(service);
    await waitFor("old workers retired", async () => (await workers("production")).every((w) => w === sha));
    expect(await workers("production")).toEqual([sha, sha]);
  });

  it("restarts a process whose health check fails after it went live, and says so in the deployment log", async () => {
    await release("heal");
    const filters = JSON.stringify({ label: [`berth.app=${h.app}`, "berth.environment=production", "berth.process=worker"] });
    const [worker] = await docker.listContainers({ filters });
    const container = docker.getContainer(worker?.Id ?? "");
    const startedAt = (await container.inspect()).State.StartedAt;
    const exec = await container.exec({ Cmd: ["rm", "/tmp/ok"] });
    await exec.start({});
    await waitFor("worker restarted", async () => (await container.inspect()).State.StartedAt !== startedAt, 60_000, 250);
    const deployment = worker?.Labels["berth.deployment"];
    const check = h.github.checkRunsFor(worker?.Labels["berth.sha"] ?? "").find((c) => c.status === "completed");
    const log = await waitFor("autoheal in the log", async () => {
      const text = await (await fetch((check?.details_url ?? "").replace("?", "/log?"))).text();
      return text.includes("autoheal: restarted") ? text : undefined;
    });
    expect(log).toContain(`autoheal: restarted ${worker?.Names[0]?.slice(1)}: Docker reported its health command failing`);
    expect(deployment).toBeDefined();
    expect(h.berth.output()).toContain("autoheal: restarting unhealthy container");
  });

  it("gives a preview its own service and volume, and previews.env on top", async () => {
    await release("2");
    const sha = h.repo.commitToPull(4, files("pr"));
    await h.pull({ action: "opened", number: 4, head: sha });
    expect((await completed(sha)).conclusion).toBe("success");
    const body = await waitFor("preview", async () => ((await page(`${h.app}-pr-4.localhost`)).includes("version=pr") ? page(`${h.app}-pr-4.localhost`) : undefined));
    expect(body).toBe("greeting=hello preview\nsecret=k-123\ncache=cache\nstarts=1\nmigrated=cache-ok\nredis=release\nversion=pr\n");
    expect(await serviceId("pr-4")).toBeDefined();
    expect(await serviceId("pr-4")).not.toBe(await serviceId("production"));
  });

  it("lets a preview use production's services with previews.services: shared, keeping its own volumes and never running its release command", async () => {
    const manifest = MANIFEST.replace("previews:\n  env: { GREETING: hello preview }", "previews:\n  env: { GREETING: hello shared }\n  services: shared");
    await setSecret();
    // A pull request cannot opt itself in: until the default branch says so, it gets its own services.
    const proposed = h.repo.commitToPull(12, files("proposed", manifest));
    await h.pull({ action: "opened", number: 12, head: proposed });
    expect((await completed(proposed)).conclusion).toBe("success");
    expect(await serviceId("pr-12")).toBeDefined();
    const before = h.repo.head;
    const merged = h.repo.commit(files("3s", manifest), "previews share services");
    await h.push(merged, before);
    expect((await completed(merged)).conclusion).toBe("success");
    const sha = h.repo.commitToPull(12, files("shared", manifest));
    await h.pull({ action: "synchronize", number: 12, head: sha });
    const check = await completed(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    const body = await waitFor("shared preview", async () => ((await page(`${h.app}-pr-12.localhost`)).includes("version=shared") ? page(`${h.app}-pr-12.localhost`) : undefined));
    // Its own data volume carries on from its first (fresh) release: starts=2, and what that release's
    // command wrote. redis=release now comes from production's Redis: its own Redis is gone (below).
    expect(body).toBe("greeting=hello shared\nsecret=k-123\ncache=cache\nstarts=2\nmigrated=cache-ok\nredis=release\nversion=shared\n");
    await waitFor("the preview's own services removed", async () => (await serviceId("pr-12")) === undefined, 30_000);
    expect((await getVia(h.ingressPort, `${h.app}-pr-12.localhost`, "/cache/")).body).toBe("cache-ok\n"); // path route to production's service
    const log = await (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    expect(log).toContain("previews.services: shared: using production's cache, redis");
    expect(log).toContain("not running the release command");
    expect(log).toContain("removing service redis: no longer declared for pr-12");
    await h.pull({ action: "closed", number: 12, head: sha });
    const filters = JSON.stringify({ label: [`berth.app=${h.app}`, "berth.environment=pr-12"] });
    // The preview's own volume goes with it (teardown removes containers, then networks, then volumes).
    await waitFor("shared preview gone", async () => (await docker.listContainers({ all: true, filters })).length === 0 && ((await docker.listVolumes({ filters })).Volumes ?? []).length === 0);
    expect(await serviceId("production")).toBeDefined(); // production's services outlive the preview that used them
    expect(await page(`${h.app}.localhost`)).toContain("redis=release");
  });

  it("mounts build.secrets into RUN steps with BuildKit, and keeps them out of the image and the log", async () => {
    const manifest = MANIFEST.replace("web:\n", "build: { secrets: [API_KEY] }\nweb:\n");
    const dockerfile = [
      "FROM berth-standin/busybox:latest",
      "COPY app.sh /app.sh",
      // Compares a digest, so the value itself is nowhere in the Dockerfile (nor in the history that records it).
      `RUN --mount=type=secret,id=API_KEY test "$(sha256sum < /run/secrets/API_KEY | cut -c1-64)" = ${createHash("sha256").update("k-123").digest("hex")} && echo checked-${Date.now()} > /build-check`,
      "ENV VERSION=bk",
      "EXPOSE 8080",
      "",
    ].join("\n");
    await setSecret();
    const sha = h.repo.commitToPull(11, { ...files("bk", manifest), Dockerfile: dockerfile });
    await h.pull({ action: "opened", number: 11, head: sha });
    const check = await completed(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    await waitFor("preview built with a build secret", async () => (await page(`${h.app}-pr-11.localhost`)).includes("version=bk"));
    const log = await (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    expect(log).toContain("(BuildKit, with build secrets API_KEY)");
    expect(log).toMatch(/#\d+ \[3\/3\] RUN --mount=type=secret,id=API_KEY/);
    expect(log).not.toContain("k-123");
    const [built] = await docker.listImages({ filters: JSON.stringify({ reference: [`berth/${h.app}:${sha}-*`] }) });
    const image = docker.getImage(built?.Id ?? "(not built)");
    expect(JSON.stringify(await image.history())).not.toContain("k-123");
    expect(JSON.stringify(await image.inspect())).not.toContain("k-123");
    await h.pull({ action: "closed", number: 11, head: sha });
  });

  it("skips a push that touches none of build.watch, and builds one that does", async () => {
    const watched = MANIFEST.replace("web:\n", 'build: { watch: ["app.sh", "Dockerfile", "berth.yaml"] }\nweb:\n');
    await setSecret();
    let before = h.repo.head;
    const built = h.repo.commit(files("5", watched), "watch paths");
    await h.push(built, before, { changed: ["berth.yaml", "Dockerfile"] });
    expect((await completed(built)).conclusion).toBe("success");
    before = h.repo.head;
    const docs = h.repo.commit({ "docs/readme.md": "only docs\n" }, "docs only");
    await h.push(docs, before, { changed: ["docs/readme.md"] });
    const check = await completed(docs);
    expect(check.conclusion).toBe("skipped");
    expect(check.output?.title).toBe("No watched path changed");
    expect(check.output?.summary).toContain("`app.sh`, `Dockerfile`, `berth.yaml`");
    expect(h.github.deploymentsFor(docs)).toEqual([]);
    expect(await page(`${h.app}.localhost`)).toContain("version=5");
  });

  it("stops a build that runs past build.timeout and says so", async () => {
    await release("5");
    const before = h.repo.head;
    const slow = { ...files("6", MANIFEST.replace("web:\n", "build: { timeout: 2s }\nweb:\n")), Dockerfile: "FROM berth-standin/busybox:latest\nRUN sleep 300\n" };
    const sha = h.repo.commit(slow, "slow build");
    await h.push(sha, before);
    const check = await completed(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("The build took longer than 2s and was stopped (build.timeout in berth.yaml, default 30m).");
    expect(await page(`${h.app}.localhost`)).toContain("version=5");
  });

  it("builds a repository without a Dockerfile with buildpacks (pack, here a stand-in)", async () => {
    const sha = h.repo.commitToPull(9, { Dockerfile: null, "berth.yaml": null, "app.sh": null, "deploy/cache-page.txt": null, "index.html": "built by buildpacks\n" });
    await h.pull({ action: "opened", number: 9, head: sha });
    const check = await completed(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(await waitFor("pack preview", async () => ((await page(`${h.app}-pr-9.localhost`)) === "built by buildpacks\n" ? true : undefined))).toBe(true);
    const log = await (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    expect(log).toContain("(buildpacks, builder paketobuildpacks/builder-jammy-base)");
    expect(log).toContain("===> DETECTING");
    expect(readFileSync(packLog, "utf8")).toMatch(new RegExp(`build berth/${h.app}:${sha}-\\d+ --builder paketobuildpacks/builder-jammy-base --cache type=build;format=volume;name=berth-pack-cache-${h.app}`));
  });

  it("reports an invalid berth.yaml with the line, as an annotation, and deploys nothing", async () => {
    await release("5");
    const before = h.repo.head;
    const sha = h.repo.commit(files("4", MANIFEST.replace('volumes: ["data:/data"]', 'volumes: ["data"]')), "broken manifest");
    await h.push(sha, before);
    const check = await completed(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("berth.yaml is invalid");
    expect(check.output?.summary).toContain('web.volumes[0] (line 5): expected "name:/path" or "name:/path:ro"');
    const last = check.history.at(-1) as { output?: { annotations?: { path: string; start_line: number }[] } };
    expect(last.output?.annotations?.[0]).toMatchObject({ path: "berth.yaml", start_line: 5 });
    expect(await page(`${h.app}.localhost`)).toContain("version=5");
  });

  it("renames the app with name:, moving production to the new hostname with its data and services, and back without it", async () => {
    const renamed = `${h.app}-shop`;
    const starts = startsOf((await release("6")).body);
    const service = await serviceId("production");
    const before = h.repo.head;
    const sha = h.repo.commit(files("7", `name: ${renamed}\n${MANIFEST}`), "rename");
    await h.push(sha, before);
    const check = await completed(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    const body = await waitFor("renamed app", async () => ((await page(`${renamed}.localhost`)).includes("version=7") ? page(`${renamed}.localhost`) : undefined));
    expect(startsOf(body)).toBe(starts + 1); // the same data volume, not a fresh one
    expect(body).toContain("redis=release\n");
    expect(await serviceId("production")).toBe(service); // services were not moved or restarted
    expect(await page(`${h.app}.localhost`)).not.toContain("version=");
    const deployment = await waitFor("Deployment success", () => h.github.deploymentsFor(sha).find((d) => d.statuses.at(-1)?.state === "success"));
    expect(deployment.statuses.at(-1)?.environment_url).toBe(`http://${renamed}.localhost:${h.ingressPort}`);
    const api = (await (await fetch(`${h.berth.url}/api/v1/apps/${renamed}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { name: string };
    expect(api.name).toBe(renamed);
    const log = await (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    expect(log).toContain(`app renamed from ${h.app} to ${renamed} (berth.yaml name): production moves to ${renamed}.localhost`);
    // Without name: the app answers under its first name again, as every other test here expects.
    const back = await release("8");
    expect(startsOf(back.body)).toBe(starts + 2);
    expect(await page(`${renamed}.localhost`)).not.toContain("version=");
  });
});
