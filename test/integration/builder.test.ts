import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planDockerBuild } from "../../builder/docker-build-plan.js";
import { DockerBuilder } from "../../builder/docker-builder.js";
import { GitSourceFetcher } from "../../builder/source-fetcher.js";
import { UserError } from "../../core/errors.js";
import { Sensitive } from "../../core/sensitive.js";
import { removeApp } from "../support/docker-cleanup.js";
import { FakeGitHub } from "../support/fake-github.js";
import { TestRepo, staticSite } from "../support/git-repo.js";
import { uniqueName } from "../support/services.js";

describe("source fetch and Dockerfile build", () => {
  const gitRoot = mkdtempSync(join(tmpdir(), "berth-git-"));
  const github = new FakeGitHub(gitRoot);
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });
  const builder = new DockerBuilder(docker);
  const app = uniqueName("build-");
  let repo: TestRepo;
  const dirs: string[] = [];
  const checkout = () => {
    const d = mkdtempSync(join(tmpdir(), "berth-src-"));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    await github.start();
    repo = new TestRepo(gitRoot, "o", app);
  });

  afterAll(async () => {
    await github.stop();
    await removeApp(app);
    repo.cleanup();
    for (const d of [gitRoot, ...dirs]) rmSync(d, { recursive: true, force: true });
  });

  it("fetches exactly the pushed sha, not the branch head, with the installation token", async () => {
    const first = repo.commit({ "a.txt": "one" }, "one");
    repo.commit({ "a.txt": "two", "b.txt": "new" }, "two");
    const dir = checkout();
    await new GitSourceFetcher().fetch({ cloneUrl: github.cloneUrl("o", app), sha: first, token: new Sensitive("ghs_fake_1") }, dir);
    expect(readdirSync(dir).sort()).toEqual([".git", "a.txt"]);
    expect(github.gitAuth.at(-1)).toBe("x-access-token:ghs_fake_1");
  });

  it("refuses a wrong token the way GitHub does", async () => {
    const fetchWith = (token: string) =>
      new GitSourceFetcher().fetch({ cloneUrl: github.cloneUrl("o", app), sha: repo.head, token: new Sensitive(token) }, checkout());
    await expect(fetchWith("wrong")).rejects.toThrow(/exited with 128/);
  });

  it("builds berth/<app>:<sha>-<deployment> with labels and streams the log", async () => {
    const sha = repo.commit(staticSite("built\n"), "site");
    const dir = checkout();
    await new GitSourceFetcher().fetch({ cloneUrl: github.cloneUrl("o", app), sha, token: new Sensitive("ghs_fake_1") }, dir);
    const plan = planDockerBuild({ app, environment: "production", sha, deploymentId: 1, contextDir: dir, entries: readdirSync(dir), dockerfile: "Dockerfile", buildArgs: {} });
    let log = "";
    const id = await builder.build(plan, (t) => (log += t));
    expect(id).toMatch(/^sha256:/);
    expect(log).toMatch(/Step 1\/\d+ : FROM berth-standin\/busybox:latest/);
    expect(log).toContain("Successfully tagged");
    const image = await docker.getImage(`berth/${app}:${sha}-1`).inspect();
    expect(image.Config.Labels).toMatchObject({ "berth.app": app });
    expect(Object.keys(image.Config.ExposedPorts ?? {})).toEqual(["8080/tcp"]);
  });

  it("honours .dockerignore and never sends .git", async () => {
    const sha = repo.commit(
      {
        Dockerfile: "FROM berth-standin/busybox:latest\nCOPY . /ctx\nRUN test -e /ctx/keep.txt && test ! -e /ctx/secret.env && test ! -e /ctx/.git\n",
        ".dockerignore": "secret.env\n",
        "keep.txt": "keep",
        "secret.env": "TOKEN=1",
      },
      "ignore",
    );
    const dir = checkout();
    await new GitSourceFetcher().fetch({ cloneUrl: github.cloneUrl("o", app), sha, token: new Sensitive("ghs_fake_1") }, dir);
    const plan = planDockerBuild({ app, environment: "production", sha, deploymentId: 3, contextDir: dir, entries: readdirSync(dir), dockerfile: "Dockerfile", buildArgs: {} });
    await expect(builder.build(plan, () => undefined)).resolves.toMatch(/^sha256:/);
  });

  it("reports a failing step as the user's error with the log tail", async () => {
    const sha = repo.commit({ Dockerfile: "FROM berth-standin/busybox:latest\nRUN echo compiling && echo 'error: missing semicolon' && false\n" }, "broken");
    const dir = checkout();
    await new GitSourceFetcher().fetch({ cloneUrl: github.cloneUrl("o", app), sha, token: new Sensitive("ghs_fake_1") }, dir);
    const plan = planDockerBuild({ app, environment: "production", sha, deploymentId: 2, contextDir: dir, entries: readdirSync(dir), dockerfile: "Dockerfile", buildArgs: {} });
    const err = await builder.build(plan, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe("docker build failed: The command '/bin/sh -c echo compiling && echo 'error: missing semicolon' && false' returned a non-zero code: 1");
    expect((err as UserError).detail).toContain("error: missing semicolon");
  });

  it("stops at build.target and runs RUN steps under the build's memory and CPU limits", async () => {
    const sha = repo.commit(
      {
        Dockerfile: [
          "FROM berth-standin/busybox:latest AS tools",
          "RUN echo tools > /stage",
          // cgroup v1 and v2 name the limits differently; print whichever this engine has.
          "RUN echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null) cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null)",
          "FROM berth-standin/busybox:latest AS runtime",
          "RUN echo runtime > /stage",
          "",
        ].join("\n"),
      },
      "stages",
    );
    const dir = checkout();
    await new GitSourceFetcher().fetch({ cloneUrl: github.cloneUrl("o", app), sha, token: new Sensitive("ghs_fake_1") }, dir);
    const plan = planDockerBuild({
      app, environment: "production", sha, deploymentId: 4, contextDir: dir, entries: readdirSync(dir), dockerfile: "Dockerfile", target: "tools", buildArgs: {},
      resources: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5 },
    });
    let log = "";
    await builder.build(plan, (t) => (log += t));
    expect(log).toMatch(/mem=67108864 cpu=(50000|50000 100000)\n/);
    expect(log).not.toContain("echo runtime"); // the later stage was never built
    const run = await docker.createContainer({ Image: plan.image, Cmd: ["cat", "/stage"] });
    try {
      await run.start();
      await run.wait();
      expect((await run.logs({ stdout: true })).toString()).toContain("tools");
    } finally {
      await run.remove({ force: true });
    }
  });
});
