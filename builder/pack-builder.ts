import { execa } from "execa";
import { ExecError, UserError, lastLines } from "../core/errors.js";
import type { LogSink } from "./docker-builder.js";

/** Runs a planned `pack build` with execa, streaming its output into the build log. */
export class PackBuilder {
  constructor(private readonly env: Record<string, string | undefined> = process.env) {}

  async build(plan: { file: string; args: string[] }, log: LogSink, signal?: AbortSignal): Promise<void> {
    let tail = "";
    const child = execa(plan.file, plan.args, { all: true, reject: false, cancelSignal: signal, env: this.env, stdin: "ignore" });
    child.all?.on("data", (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-8000);
      log(text);
    });
    const r = await child;
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
