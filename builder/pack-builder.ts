import { execa } from "execa";
import { ExecError, UserError, lastLines } from "../core/errors.js";
import { planFor, type BuildPlan, type BuildRun, type Builder, type LogSink } from "./builder.js";

/** Runs a planned `pack build` with execa, streaming its output into the build log. */
export class PackBuilder implements Builder {
  constructor(private readonly env: Record<string, string | undefined> = process.env) {}

  async run(plan: BuildPlan, run: BuildRun): Promise<void> {
    await this.build(planFor(plan, "pack").pack, run.log, run.signal);
  }

  async build(plan: { file: string; args: string[] }, log: LogSink, signal?: AbortSignal): Promise<void> {
    let tail = "";
    // pack runs in a process group of its own, and a cancel stops the whole group: killing only pack would
    // leave whatever it started holding the output pipe, and the build would look running until they end.
    const child = execa(plan.file, plan.args, { all: true, reject: false, detached: true, env: this.env, stdin: "ignore" });
    const stop = (): void => killGroup(child.pid);
    signal?.addEventListener("abort", stop, { once: true });
    if (signal?.aborted) stop();
    child.all?.on("data", (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-8000);
      log(text);
    });
    const r = await child.finally(() => signal?.removeEventListener("abort", stop));
    if (signal?.aborted) throw signal.reason ?? new Error("build cancelled");
    if (r.code === "ENOENT") {
      throw new UserError(
        "This app builds with Cloud Native Buildpacks, but the `pack` CLI is not installed on the builder host. " +
          "Its operator must install pack (https://buildpacks.io/docs/tools/pack/) on the PATH of berth's builder, or the repository can add a Dockerfile.",
      );
    }
    if (r.exitCode !== 0) {
      const err = new ExecError([plan.file, ...plan.args], r.exitCode, String(r.stdout ?? ""), String(r.stderr ?? ""));
      throw new UserError(`pack build failed (exit ${r.exitCode ?? "signal"})`, lastLines(tail, 40) || err.message);
    }
  }
}

const KILL_AFTER_MS = 5000;

/** SIGTERM to the process group, SIGKILL to what is left of it a few seconds later. */
function killGroup(pid: number | undefined): void {
  if (!pid) return;
  const signalGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signalGroup("SIGTERM");
  setTimeout(() => signalGroup("SIGKILL"), KILL_AFTER_MS).unref();
}
