import { describe, expect, it } from "vitest";
import { planDockerBuild } from "../../builder/docker-build-plan.js";
import { planGitFetch } from "../../builder/source-fetcher.js";
import { cloneUrlFor, isRepoFullName, isSha } from "../../github/source-url.js";

describe("planDockerBuild", () => {
  it("tags berth/<app>:<sha>-<deployment>, labels the app (only: each label is a build step), leaves .git out and never forces a pull", () => {
    const sha = "89abcdef0123456789abcdef0123456789abcdef";
    expect(
      planDockerBuild({
        app: "shop",
        environment: "production",
        sha,
        deploymentId: 9,
        contextDir: "/tmp/b/shop-89abcde-x",
        entries: ["src", ".git", "Dockerfile", "package.json"],
        dockerfile: "Dockerfile",
        buildArgs: { NODE_ENV: "production" },
      }),
    ).toEqual({
      image: `berth/shop:${sha}-9`,
      context: { context: "/tmp/b/shop-89abcde-x", src: ["Dockerfile", "package.json", "src"] },
      options: {
        t: `berth/shop:${sha}-9`,
        dockerfile: "Dockerfile",
        labels: { "berth.app": "shop" },
        buildargs: { NODE_ENV: "production" },
        rm: true,
        forcerm: true,
        version: "1",
      },
    });
  });

  it("stops at build.target and limits each RUN step's memory (no extra swap) and CPU time", () => {
    const plan = planDockerBuild({
      app: "shop",
      environment: "pr-3",
      sha: "0".repeat(40),
      deploymentId: 10,
      contextDir: "/c",
      entries: ["Dockerfile"],
      dockerfile: "docker/Dockerfile.prod",
      target: "runtime",
      buildArgs: {},
      resources: { memoryBytes: 536_870_912, cpus: 1.5 },
    });
    expect(plan.options).toMatchObject({ dockerfile: "docker/Dockerfile.prod", target: "runtime", memory: 536_870_912, memswap: 536_870_912, cpuperiod: 100_000, cpuquota: 150_000 });
    const plain = planDockerBuild({ ...{ app: "a", environment: "production", sha: "1".repeat(40), deploymentId: 1, contextDir: "/c", entries: [], dockerfile: "Dockerfile", buildArgs: {} }, resources: {} });
    for (const key of ["target", "memory", "memswap", "cpuperiod", "cpuquota"]) expect(plain.options).not.toHaveProperty(key);
  });
});

describe("planGitFetch", () => {
  const sha = "0123456789abcdef0123456789abcdef01234567";
  it("fetches exactly one sha, shallow, with no credentials in argv and -- before positional arguments", () => {
    const step = planGitFetch({ cloneUrl: "https://github.com/o/r.git", sha }, "/tmp/src");
    // One shell, its values only as quoted positional parameters: never parsed as shell words.
    expect([step.file, ...step.args.slice(0, 4)]).toEqual(["nice", "-n", "10", "sh", "-c"]);
    expect(step.args.slice(5)).toEqual(["git-fetch", "/tmp/src", "https://github.com/o/r.git", sha]);
    expect(step.args[4]).toBe(
      'git init --quiet --template= -- "$1" && git -C "$1" fetch --quiet --depth 1 --no-tags -- "$2" "$3" && git -C "$1" -c advice.detachedHead=false checkout --quiet --detach FETCH_HEAD',
    );
  });

  it("refuses a sha or URL that is not one, before any git runs", () => {
    expect(() => planGitFetch({ cloneUrl: "https://github.com/o/r.git", sha: "--upload-pack=touch /tmp/pwned" }, "/tmp/src")).toThrow("not a 40-hex commit id");
    expect(() => planGitFetch({ cloneUrl: "https://github.com/o/r.git", sha: "ABCDEF0123456789abcdef0123456789abcdef01" }, "/tmp/src")).toThrow("not a 40-hex commit id");
    expect(() => planGitFetch({ cloneUrl: "--upload-pack=touch /tmp/pwned", sha }, "/tmp/src")).toThrow("not an http(s) URL");
    expect(() => planGitFetch({ cloneUrl: "ext::sh -c touch% /tmp/pwned", sha }, "/tmp/src")).toThrow("not an http(s) URL");
  });
});

describe("cloneUrlFor / isSha / isRepoFullName", () => {
  it("derives the URL from the configured GitHub and full_name, never the payload's", () => {
    expect(cloneUrlFor("https://github.com", "octo-org/hello.world")).toBe("https://github.com/octo-org/hello.world.git");
    expect(cloneUrlFor("http://127.0.0.1:9000/", "o/r")).toBe("http://127.0.0.1:9000/o/r.git");
  });

  it("refuses names that could climb, carry options or smuggle URL parts", () => {
    for (const bad of ["-o/r", "o/r/x", "o/..", "o/.git", "../r", "o r/x", "o/r?x=1", "o/r#x", "", "o/", "/r"]) {
      expect(isRepoFullName(bad), bad).toBe(false);
      expect(() => cloneUrlFor("https://github.com", bad)).toThrow("refusing to fetch from a repository named");
    }
    expect(isSha("0123456789abcdef0123456789abcdef01234567")).toBe(true);
    for (const bad of ["0123456", "--help", "0123456789abcdef0123456789abcdef0123456g", 42]) expect(isSha(bad)).toBe(false);
  });
});
