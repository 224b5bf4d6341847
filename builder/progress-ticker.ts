import type { ProgressSnapshot } from "../github/deployment-reporter.js";
import { lastLines } from "../core/errors.js";

// Classic builder "Step 3/7 : RUN make", BuildKit "#7 [build 2/5] RUN make", pack "===> BUILDING" / "[builder] ===> BUILDING".
const STEP_PATTERNS: { re: RegExp; format: (m: RegExpExecArray) => string }[] = [
  { re: /^Step (\d+\/\d+) : (.*)$/gm, format: (m) => `step ${m[1]}: ${m[2]}` },
  { re: /^#\d+ \[(?:([\w.-]+) )?(\d+\/\d+)\] (.*)$/gm, format: (m) => `step ${m[2]}${m[1] ? ` (${m[1]})` : ""}: ${m[3]}` },
  { re: /^(?:\[\w+\] )?===> ([A-Z]+)$/gm, format: (m) => `buildpacks: ${(m[1] ?? "").toLowerCase()}` },
];

const MAX_STEP = 100;

/** Where a build is, read from the end of its log: the latest step or phase any of the builders printed. */
export function currentStep(log: string): string | undefined {
  let best: { at: number; text: string } | undefined;
  for (const { re, format } of STEP_PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(log); m; m = re.exec(log)) {
      if (!best || m.index >= best.at) best = { at: m.index, text: format(m) };
    }
  }
  if (!best) return undefined;
  const text = best.text.trim();
  return text.length > MAX_STEP ? `${text.slice(0, MAX_STEP - 1)}…` : text;
}

/**
 * Reports a running build's progress at most once per interval, and only when its log moved since the
 * last report: GitHub allows an installation 5,000 requests an hour, and a chatty build must not spend them.
 */
export class ProgressTicker {
  #timer: NodeJS.Timeout | undefined;
  #last = "";
  readonly #started = Date.now();

  constructor(
    private readonly intervalMs: number,
    private readonly readLog: () => string,
    private readonly report: (snapshot: ProgressSnapshot) => void,
    private readonly tailLines = 25,
  ) {}

  start(): this {
    if (this.intervalMs > 0) {
      this.#timer = setInterval(() => this.tick(), this.intervalMs);
      this.#timer.unref();
    }
    return this;
  }

  /** One report if the log moved; exposed so tests need no timers. */
  tick(): void {
    const log = this.readLog();
    if (log === this.#last) return;
    this.#last = log;
    this.report({ step: currentStep(log), tail: lastLines(log, this.tailLines), elapsedMs: Date.now() - this.#started });
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
