import type Docker from "dockerode";
import { UserError, lastLines } from "../core/errors.js";
import type { DockerBuildPlan } from "./docker-build-plan.js";
import { EngineWatch } from "./engine-watch.js";
import { planFor, type BuildPlan, type BuildRun, type Builder, type LogSink } from "./builder.js";

interface BuildEvent {
  stream?: string;
  status?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

const LOST_CACHE_LAYER = /unable to find image "?sha256:|no such image:? "?sha256:/i;

/** Runs a DockerBuildPlan on a Docker engine and streams its output; a failing build is the user's error. */
export class DockerBuilder implements Builder {
  constructor(private readonly docker: Docker) {}

  async run(plan: BuildPlan, run: BuildRun): Promise<void> {
    const engine = await EngineWatch.start(this.docker);
    const docker = planFor(plan, "classic").docker;
    try {
      await this.build(docker, run.log, run.signal).catch(async (e: unknown) => {
        // A layer the cache matched was removed mid-build (the app's old images pruned after a release
        // on another process's turn): nothing is wrong with the build, and once more it matches anew.
        if (run.signal?.aborted || !LOST_CACHE_LAYER.test((e as Error).message)) throw e;
        run.log("A cached layer was removed while this build used it; building again.\n");
        return this.build(docker, run.log, run.signal);
      });
    } catch (e) {
      if (run.signal?.aborted) throw e;
      throw (await engine.lost(e, run.signal)) ?? e;
    } finally {
      engine.stop();
    }
  }

  async build(plan: DockerBuildPlan, log: LogSink, signal?: AbortSignal): Promise<string> {
    const stream = await this.docker
      .buildImage(plan.context, { ...plan.options, abortSignal: signal } as Docker.ImageBuildOptions)
      .catch((e: { statusCode?: number; json?: { message?: string }; message: string }) => {
        // The daemon refuses a Dockerfile it cannot parse with a 4xx before any output: the user's to fix.
        if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
          throw new UserError(`docker build failed: ${(e.json?.message ?? e.message).trim()}`);
        }
        throw e;
      });
    let tail = "";
    let imageId = "";
    const record = (text: string): void => {
      tail = (tail + text).slice(-8000);
      log(text);
    };
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (event: BuildEvent) => {
          if (event.stream) record(event.stream);
          else if (event.status) record(`${event.status}${event.progress ? " " + event.progress : ""}\n`);
          if (event.aux?.ID) imageId = event.aux.ID;
          if (event.error) {
            record(`${event.errorDetail?.message ?? event.error}\n`);
            reject(new UserError(`docker build failed: ${event.error.trim()}`, lastLines(tail, 40)));
          }
        },
      );
    });
    if (signal?.aborted) throw signal.reason ?? new Error("build cancelled");
    if (!imageId) imageId = (await this.docker.getImage(plan.image).inspect()).Id;
    return imageId;
  }
}
