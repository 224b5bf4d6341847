import { describe, expect, it } from "vitest";
import { detectStrategy, planPackBuild } from "../../builder/pack-plan.js";

describe("planPackBuild", () => {
  it("builds berth/<app>:<sha>-<deployment> with the builder, no forced pull, a cache volume per app and labels", () => {
    expect(
      planPackBuild({ app: "shop", sha: "abc123", deploymentId: 7, contextDir: "/tmp/src/shop", builder: "paketobuildpacks/builder-jammy-base", env: { NODE_ENV: "production", BP_NODE_VERSION: "20" } }),
    ).toEqual({
      file: "pack",
      image: "berth/shop:abc123-7",
      args: [
        "build", "berth/shop:abc123-7",
        "--builder", "paketobuildpacks/builder-jammy-base",
        "--path", "/tmp/src/shop",
        "--pull-policy", "if-not-present",
        "--cache", "type=build;format=volume;name=berth-pack-cache-shop",
        "--label", "berth.managed=true",
        "--label", "berth.app=shop",
        "--label", "berth.sha=abc123",
        "--label", "berth.deployment=7",
        "--env", "BP_NODE_VERSION=20",
        "--env", "NODE_ENV=production",
      ],
    });
  });
});

describe("detectStrategy", () => {
  it("takes berth.yaml's strategy, else a Dockerfile, else buildpacks", () => {
    expect(detectStrategy("buildpacks", true)).toBe("buildpacks");
    expect(detectStrategy("dockerfile", false)).toBe("dockerfile");
    expect(detectStrategy(undefined, true)).toBe("dockerfile");
    expect(detectStrategy(undefined, false)).toBe("buildpacks");
  });
});
