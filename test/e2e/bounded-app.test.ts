import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../support/docker-cleanup.js";
import { startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";

/*
 * What a repository controls, end to end: a route path the planner used to refuse after the manifest
 * took it, a release command that prints megabytes, a pathological watch glob against a long path, a
 * build.timeout past Node's timers; and the operator's process limit on the app's containers.
 */

const MANIFEST = `web:
  port: 8080
  command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
processes:
  admin:
    command: "sh -c 'mkdir -p /a/@admin && echo admin-ok > /a/@admin/index.html && exec httpd -f -p 7070 -h /a'"
release: ["sh", "-c", "echo release-first; yes | head -c 3000000; echo release-last"]
routes:
  - { path: "/@admin/*", to: "admin:7070" }
`;

const files = (body: string, manifest = MANIFEST): Record<string, string> => ({
  Dockerfile: `FROM berth-standin/busybox:latest\nRUN mkdir -p /www && echo ${body} > /www/index.html\n`,
  "berth.yaml": manifest,
});

describe("what a repository controls, bounded", () => {
  let h: Harness;
  const completed = (sha: string) => waitFor(`check on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 100);

  beforeAll(async () => {
    h = await startHarness({ BERTH_APP_PIDS: "64" }, 6);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("routes a path with @, keeps the head and tail of a long release output, and limits processes", async () => {
    const sha = h.repo.commit(files("v1"), "bounded app");
    await h.push(sha, "0".repeat(40));
    const check = await completed(sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    const admin = await waitFor("admin route", async () => {
      const r = await getVia(h.ingressPort, `${h.app}.localhost`, "/@admin/").catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    });
    expect(admin.body).toBe("admin-ok\n");
    expect((await getVia(h.ingressPort, `${h.app}.localhost`)).body).toBe("v1\n");

    const log = await (await fetch((check.details_url ?? "").replace("?", "/log?"))).text();
    expect(log).toContain("release-first\n");
    expect(log).toMatch(/\n\[\.\.\. \d+ characters of output cut \.\.\.\]\n/);
    expect(log).toContain("release-last\n");
    expect(log.length).toBeLessThan(1_200_000);

    const web = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.app=${h.app}`, "berth.role=web"] }) });
    const processes = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.app=${h.app}`, "berth.process=admin"] }) });
    for (const c of [...web, ...processes]) expect((await docker.getContainer(c.Id).inspect()).HostConfig.PidsLimit).toBe(64);
    expect(web.length + processes.length).toBe(2);
  });

  it("skips a push whose long changed path meets a pathological watch glob, at once", async () => {
    let before = h.repo.head;
    const watched = MANIFEST.replace("web:\n", `build: { watch: ["**/${"*a".repeat(20)}*b"] }\nweb:\n`);
    const built = h.repo.commit(files("v2", watched), "watch");
    await h.push(built, before);
    expect((await completed(built)).conclusion).toBe("success");
    before = h.repo.head;
    const sha = h.repo.commit({ "docs/readme.md": "docs\n" }, "docs");
    const started = Date.now();
    await h.push(sha, before, { changed: [`docs/${"a".repeat(4000)}`] });
    const check = await completed(sha);
    expect(check.conclusion).toBe("skipped");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("refuses a build.timeout past its ceiling as a manifest problem, not berth's", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit(files("v3", MANIFEST.replace("web:\n", "build: { timeout: 3650d }\nweb:\n")), "ten years");
    await h.push(sha, before);
    const check = await completed(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain('build.timeout (line 1): expected a duration of at most 24h; got "3650d"');
    expect((await getVia(h.ingressPort, `${h.app}.localhost`)).body).toBe("v2\n");
  });
});
