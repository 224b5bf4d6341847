import type { BuildSpec } from "./docker-build-plan.js";
import { imageRef } from "../core/names.js";

export const DEFAULT_BUILDER = "paketobuildpacks/builder-jammy-base";

export interface PackSpec extends Pick<BuildSpec, "app" | "sha" | "deploymentId" | "contextDir"> {
  builder: string;
  env: Readonly<Record<string, string>>;
}

/**
 * The `pack build` invocation for a Cloud Native Buildpacks build: argv only (execa, no shell), the
 * builder image used as present on the builder host (never forced to pull), and a cache volume per
 * app so a rebuild with unchanged dependencies reuses its layers.
 */
export function planPackBuild(spec: PackSpec): { file: string; args: string[]; image: string } {
  const image = imageRef(spec.app, spec.sha, spec.deploymentId);
  const env = Object.entries(spec.env)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([k, v]) => ["--env", `${k}=${v}`]);
  return {
    file: "pack",
    image,
    args: [
      "build",
      image,
      "--builder",
      spec.builder,
      "--path",
      spec.contextDir,
      "--pull-policy",
      "if-not-present",
      "--cache",
      `type=build;format=volume;name=berth-pack-cache-${spec.app}`,
      "--label",
      `berth.managed=true`,
      "--label",
      `berth.app=${spec.app}`,
      "--label",
      `berth.sha=${spec.sha}`,
      "--label",
      `berth.deployment=${spec.deploymentId}`,
      ...env,
    ],
  };
}

export type Strategy = "dockerfile" | "buildpacks";

/** The build strategy, in this order: berth.yaml's build.strategy, else a Dockerfile in the context, else buildpacks. */
export function detectStrategy(declared: Strategy | undefined, hasDockerfile: boolean): Strategy {
  return declared ?? (hasDockerfile ? "dockerfile" : "buildpacks");
}
