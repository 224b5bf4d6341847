import type { Sensitive } from "../core/sensitive.js";
import type { DockerBuildPlan } from "./docker-build-plan.js";

/** Receives build output as it arrives. */
export type LogSink = (text: string) => void;

/** The engines a build can run on; the strategy planner picks one per build. */
export type BuildEngine = "classic" | "buildkit" | "pack";

/** A planned build: which engine runs it and the engine's own plan. */
export type BuildPlan =
  | { engine: "classic"; image: string; docker: DockerBuildPlan }
  | { engine: "buildkit"; image: string; docker: DockerBuildPlan; secretNames: readonly string[] }
  | { engine: "pack"; image: string; pack: { file: string; args: string[] } };

/** What a running build gets besides its plan. */
export interface BuildRun {
  log: LogSink;
  signal?: AbortSignal;
  /** Values of the build secrets the plan names (BuildKit only). */
  secrets?: Readonly<Record<string, Sensitive>>;
}

/**
 * The port to whatever turns a plan into the image `plan.image` on the builder's engine. A failing
 * build of the user's code is a UserError carrying the log tail; anything else is berth's to retry.
 */
export interface Builder {
  run(plan: BuildPlan, run: BuildRun): Promise<void>;
}

/** The builders this process has, by engine; a missing one cannot run here. */
export type Builders = Partial<Record<BuildEngine, Builder>>;

/** Narrows a plan for a builder of one engine; a plan routed to the wrong builder is berth's bug. */
export function planFor<E extends BuildEngine>(plan: BuildPlan, engine: E): Extract<BuildPlan, { engine: E }> {
  if (plan.engine !== engine) throw new Error(`a ${plan.engine} build plan was handed to the ${engine} builder`);
  return plan as Extract<BuildPlan, { engine: E }>;
}
