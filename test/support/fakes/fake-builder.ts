import type { BuildPlan, BuildRun, Builder } from "../../../builder/builder.js";
import type { FakeDockerHost } from "./fake-docker-host.js";

/** What one scripted build does with its plan and run: resolve (built), reject, or wait. */
export type BuildScript = (plan: BuildPlan, run: BuildRun) => Promise<void>;

/** A build that logs a line and succeeds. */
export const succeeds: BuildScript = async (plan, run) => {
  run.log(`Successfully tagged ${plan.image}\n`);
};

/** A build that logs its output and then throws the given error (a UserError for the user's own failure). */
export const failsWith =
  (error: Error, output = ""): BuildScript =>
  async (_plan, run) => {
    if (output) run.log(output);
    throw error;
  };

/** A build that runs until its signal aborts (a deadline, a newer commit), then rejects with the reason. */
export const runsUntilAborted: BuildScript = (_plan, run) =>
  new Promise((_resolve, reject) => {
    if (!run.signal) return reject(new Error("a build without a signal could never be stopped"));
    if (run.signal.aborted) return reject(run.signal.reason);
    run.signal.addEventListener("abort", () => reject(run.signal?.reason), { once: true });
  });

/**
 * A Builder that records every plan and run and does what its script says; the next scripted step
 * is used once, then `script` again. A successful build puts the image on `engine` when given (with
 * the plan's labels and `exposedPorts`), as building on the droid's Docker would.
 */
export class FakeBuilder implements Builder {
  readonly runs: { plan: BuildPlan; run: BuildRun }[] = [];
  readonly #queued: BuildScript[] = [];
  #waiting: ((r: { plan: BuildPlan; run: BuildRun }) => void)[] = [];

  constructor(
    public script: BuildScript = succeeds,
    private readonly engine?: FakeDockerHost,
    public exposedPorts: Record<string, unknown> = { "8080/tcp": {} },
  ) {}

  /** Uses this script for the next build only. */
  next(script: BuildScript): this {
    this.#queued.push(script);
    return this;
  }

  /** Resolves when the next build starts. */
  started(): Promise<{ plan: BuildPlan; run: BuildRun }> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async run(plan: BuildPlan, run: BuildRun): Promise<void> {
    const entry = { plan, run };
    this.runs.push(entry);
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w(entry);
    await (this.#queued.shift() ?? this.script)(plan, run);
    const labels = plan.engine === "pack" ? {} : plan.docker.options.labels;
    this.engine?.addImage(plan.image, { labels, exposedPorts: this.exposedPorts });
  }
}
