import { describe, expect, it } from "vitest";
import { planBuild, type StrategySpec } from "../../builder/strategy-plan.js";
import { planDockerBuild, type BuildSpec } from "../../builder/docker-build-plan.js";
import { planPackBuild } from "../../builder/pack-plan.js";

const sha = "0123456789abcdef0123456789abcdef01234567";
const docker: BuildSpec = { app: "shop", environment: "production", sha, deploymentId: 3, contextDir: "/b/shop", entries: ["Dockerfile"], dockerfile: "Dockerfile", buildArgs: { A: "1" } };
const spec = (over: Partial<StrategySpec>): StrategySpec => ({ strategy: "dockerfile", docker, packBuilder: "paketo/builder", secretNames: [], operatorLimits: {}, ...over });

describe("planBuild (the build strategy planner)", () => {
  it("plans a Dockerfile without build secrets for the classic builder", () => {
    expect(planBuild(spec({}))).toEqual({ engine: "classic", image: `berth/shop:${sha}-3`, docker: planDockerBuild(docker) });
  });

  it("plans a Dockerfile with build secrets for BuildKit, naming them", () => {
    expect(planBuild(spec({ secretNames: ["NPM_TOKEN"] }))).toEqual({ engine: "buildkit", image: `berth/shop:${sha}-3`, docker: planDockerBuild(docker), secretNames: ["NPM_TOKEN"] });
  });

  it("plans buildpacks with the app's builder and build args as pack env", () => {
    const pack = planPackBuild({ app: "shop", sha, deploymentId: 3, contextDir: "/b/shop", builder: "paketo/builder", env: { A: "1" } });
    expect(planBuild(spec({ strategy: "buildpacks" }))).toEqual({ engine: "pack", image: `berth/shop:${sha}-3`, pack: { file: "pack", args: pack.args } });
  });

  it("refuses build secrets with buildpacks, and with operator build limits BuildKit would ignore", () => {
    expect(() => planBuild(spec({ strategy: "buildpacks", secretNames: ["X"] }))).toThrow(/this app builds with buildpacks, which cannot mount them/);
    expect(() => planBuild(spec({ secretNames: ["X"], operatorLimits: { memoryBytes: 1 << 30 } }))).toThrow(/BERTH_BUILD_MEMORY \/ BERTH_BUILD_CPUS/);
    expect(() => planBuild(spec({ secretNames: ["X"], operatorLimits: { cpus: 1 } }))).toThrow(/builds with secrets are refused here/);
    // Limits alone keep the classic builder, which enforces them.
    expect(planBuild(spec({ operatorLimits: { cpus: 1 } })).engine).toBe("classic");
  });
});
