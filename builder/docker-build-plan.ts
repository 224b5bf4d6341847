import type { Resources } from "../manifest/manifest.js";
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
  /** Dockerfile stage to stop at; absent: the last. */
  target?: string;
  buildArgs: Readonly<Record<string, string>>;
  /** Limits of each RUN step's container; absent: none. */
  resources?: Resources;
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
    target?: string;
    /** RUN step limits (Engine API build parameters): bytes, and CPU time per period. */
    memory?: number;
    memswap?: number;
    cpuperiod?: number;
    cpuquota?: number;
    rm: boolean;
    forcerm: boolean;
    version: "1";
  };
}

// Never sent to the daemon: VCS data would bust the layer cache on every commit.
const NEVER_IN_CONTEXT = new Set([".git"]);

/** Plans a Dockerfile build: image tag `berth/<app>:<sha>-<deployment>`, one label naming the app, no forced pull. */
export function planDockerBuild(spec: BuildSpec): DockerBuildPlan {
  const image = imageRef(spec.app, spec.sha, spec.deploymentId);
  return {
    image,
    context: {
      context: spec.contextDir,
      src: spec.entries.filter((e) => !NEVER_IN_CONTEXT.has(e)).sort(),
    },
    options: {
      t: image,
      dockerfile: spec.dockerfile,
      // The classic builder commits one extra layer per label (a step of 60-200 ms each): only what
      // berth reads back from images, the app (for pruning); the tag carries the sha.
      labels: { [LABEL.app]: spec.app },
      buildargs: { ...spec.buildArgs },
      ...(spec.target ? { target: spec.target } : {}),
      ...buildLimits(spec.resources),
      rm: true,
      forcerm: true,
      // The classic builder: the engines berth targets may have no BuildKit, and it needs no session.
      version: "1",
    },
  };
}

// The quota is CPU time per period: 1.5 CPUs is 150ms of every 100ms.
const CPU_PERIOD_US = 100_000;

/** Engine API build limits: memory with swap capped at the same size (no swap on top), CPUs as a CFS quota. */
function buildLimits(r: Resources = {}): Pick<DockerBuildPlan["options"], "memory" | "memswap" | "cpuperiod" | "cpuquota"> {
  return {
    ...(r.memoryBytes ? { memory: r.memoryBytes, memswap: r.memoryBytes } : {}),
    ...(r.cpus ? { cpuperiod: CPU_PERIOD_US, cpuquota: Math.round(r.cpus * CPU_PERIOD_US) } : {}),
  };
}
