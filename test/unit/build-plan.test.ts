import { describe, expect, it } from "vitest";
import { planDockerBuild } from "../../builder/build-plan.js";
import { planGitFetch } from "../../builder/source-fetcher.js";

describe("planDockerBuild", () => {
  it("tags berth/<app>:<sha>, labels app and sha, leaves .git out and never forces a pull", () => {
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
      image: `berth/shop:${sha}`,
      context: { context: "/tmp/b/shop-89abcde-x", src: ["Dockerfile", "package.json", "src"] },
      options: {
        t: `berth/shop:${sha}`,
        dockerfile: "Dockerfile",
        labels: {
          "berth.managed": "true",
          "berth.app": "shop",
          "berth.sha": sha,
          "berth.deployment": "9",
          "org.opencontainers.image.revision": sha,
        },
        buildargs: { NODE_ENV: "production" },
        rm: true,
        forcerm: true,
        version: "1",
      },
    });
  });
});

describe("planGitFetch", () => {
  it("fetches exactly one sha, shallow, with no credentials in argv", () => {
    const steps = planGitFetch({ cloneUrl: "https://github.com/o/r.git", sha: "abc123" }, "/tmp/src");
    expect(steps).toEqual([
      { file: "git", args: ["init", "--quiet", "/tmp/src"] },
      { file: "git", args: ["-C", "/tmp/src", "fetch", "--quiet", "--depth", "1", "--no-tags", "https://github.com/o/r.git", "abc123"] },
      { file: "git", args: ["-C", "/tmp/src", "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", "FETCH_HEAD"] },
    ]);
  });
});
