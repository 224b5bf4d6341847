import { LABEL, imageRef } from "../core/names.js";

/** What to build: everything a planner needs, nothing from the database. */
export interface BuildSpec {
  app: string;
  environment: string;
  sha: string;
  deploymentId: number;
  /** Absolute path of the build context on the builder host. */
  contextDir: string;
  /** Top-level entries of the context directory (from a directory listing). */
  entries: readonly string[];
  dockerfile: string;
  buildArgs: Readonly<Record<string, string>>;
}

/** A Dockerfile build as dockerode takes it: the context to tar and the Engine API build parameters. */
export interface DockerBuildPlan {
  image: string;
  context: { context: string; src: string[] };
  options: {
    t: string;
    dockerfile: string;
    labels: Record<string, string>;
    buildargs: Record<string, string>;
    rm: boolean;
    forcerm: boolean;
    version: "1";
  };
}

// Never sent to the daemon: VCS data would bust the layer cache on every commit.
const NEVER_IN_CONTEXT = new Set([".git"]);

/** Plans a Dockerfile build: image tag `berth/<app>:<sha>`, labels naming app and sha, no forced pull. */
export function planDockerBuild(spec: BuildSpec): DockerBuildPlan {
  const image = imageRef(spec.app, spec.sha);
  return {
    image,
    context: {
      context: spec.contextDir,
      src: spec.entries.filter((e) => !NEVER_IN_CONTEXT.has(e)).sort(),
    },
    options: {
      t: image,
      dockerfile: spec.dockerfile,
      labels: {
        [LABEL.managed]: "true",
        [LABEL.app]: spec.app,
        [LABEL.sha]: spec.sha,
        [LABEL.deployment]: String(spec.deploymentId),
        "org.opencontainers.image.revision": spec.sha,
      },
      buildargs: { ...spec.buildArgs },
      rm: true,
      forcerm: true,
      // The classic builder: the engines berth targets may have no BuildKit, and it needs no session.
      version: "1",
    },
  };
}
