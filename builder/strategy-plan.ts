import { UserError } from "../core/errors.js";
import type { Resources } from "../manifest/manifest.js";
import { MANIFEST_FILE } from "./read-manifest.js";
import { planDockerBuild, type BuildSpec } from "./docker-build-plan.js";
import type { BuildEngine, BuildPlan } from "./builder.js";
import { planPackBuild, type Strategy } from "./pack-plan.js";

export interface StrategySpec {
  strategy: Strategy;
  /** The Dockerfile build, used unless the strategy is buildpacks. */
  docker: BuildSpec;
  /** Buildpacks builder image and build-time env, for the buildpacks strategy. */
  packBuilder: string;
  /** Names from berth.yaml's build.secrets. */
  secretNames: readonly string[];
  /** The operator's build limits (BERTH_BUILD_MEMORY / BERTH_BUILD_CPUS), which BuildKit would ignore. */
  operatorLimits: Resources;
}

/**
 * Chooses the engine of a build and plans it, in this order: buildpacks when the strategy says so,
 * BuildKit when the Dockerfile mounts build secrets (only BuildKit can), else the classic builder,
 * which every engine berth targets has and which honours the build limits. A combination that cannot
 * run is the user's error, saying what to change.
 */
export function planBuild(spec: StrategySpec): BuildPlan {
  const secrets = spec.secretNames.length > 0;
  if (spec.strategy === "buildpacks") {
    if (secrets) {
      throw new UserError(`build.secrets in ${MANIFEST_FILE} are mounted into Dockerfile RUN steps (RUN --mount=type=secret,id=NAME); this app builds with buildpacks, which cannot mount them. Add a Dockerfile or remove build.secrets.`);
    }
    const d = spec.docker;
    const pack = planPackBuild({ app: d.app, sha: d.sha, deploymentId: d.deploymentId, contextDir: d.contextDir, builder: spec.packBuilder, env: d.buildArgs });
    return { engine: "pack", image: pack.image, pack: { file: pack.file, args: pack.args } };
  }
  const docker = planDockerBuild(spec.docker);
  if (!secrets) return { engine: "classic", image: docker.image, docker };
  // BuildKit on the engines berth targets ignores build resource limits: the operator's must not be escapable.
  if (spec.operatorLimits.memoryBytes || spec.operatorLimits.cpus) {
    throw new UserError(`build.secrets need BuildKit, which cannot enforce the build limits this berth sets (BERTH_BUILD_MEMORY / BERTH_BUILD_CPUS), so builds with secrets are refused here. Remove build.secrets, or ask the operator to lift the limits.`);
  }
  return { engine: "buildkit", image: docker.image, docker, secretNames: [...spec.secretNames] };
}

/** Why a plan's engine is missing from this builder process, for the check run. */
export function engineUnavailable(engine: BuildEngine): UserError {
  switch (engine) {
    case "buildkit":
      return new UserError(`build.secrets need a BuildKit session, which berth opens only on a Docker engine reached through its unix socket; this builder's BERTH_DOCKER_HOST is remote. Its operator can run a builder on the droid host.`);
    case "pack":
      return new UserError("This app builds with Cloud Native Buildpacks, which this builder process does not offer.");
    case "classic":
      return new UserError("This builder process has no Docker engine to build Dockerfiles with.");
  }
}

/** How the log names the engine of a build. */
export function describeEngine(plan: BuildPlan, packBuilder: string): string {
  switch (plan.engine) {
    case "pack":
      return `buildpacks, builder ${packBuilder}`;
    case "buildkit":
      return `BuildKit, with build secrets ${plan.secretNames.join(", ")}`;
    case "classic":
      return plan.docker.options.dockerfile;
  }
}
