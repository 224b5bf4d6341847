import { Worker } from "node:worker_threads";
import type { Logger } from "../core/logger.js";

/** Messages the builder thread sends its parent. */
export type BuilderThreadMessage = { kind: "ready" } | { kind: "report-added" } | { kind: "stopped" };

/** How long a stopping builder thread may take to hand its builds back before it is terminated. */
const STOP_GRACE_MS = 8_000;

/**
 * The builder role on a thread of its own, in a process that also answers webhooks. Builds keep an
 * event loop busy (context tars, build output parsed line by line, logs written, progress ticks) and
 * grow a heap whose collections pause it; on their own thread neither holds up the answer to a
 * webhook, which GitHub times and which must come in milliseconds. The thread is the builder role as a
 * separate process would run it (builder-thread-main.ts), sharing only Postgres and Redis with the
 * rest, without a second Node process's memory. If it dies the process exits, as it would if the
 * builder were in the main thread, and the supervisor starts berth again.
 */
export async function startBuilderThread(log: Logger, onReportAdded: () => void): Promise<() => Promise<void>> {
  const worker = new Worker(new URL("./builder-thread-main.js", import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 3 } });
  let stopping = false;
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  worker.on("error", (err) => {
    log.fatal({ err }, "the builder thread failed; berth exits so that its supervisor starts it again");
    process.exit(1);
  });
  void exited.then((code) => {
    if (stopping) return;
    log.fatal({ code }, "the builder thread ended; berth exits so that its supervisor starts it again");
    process.exit(1);
  });
  await new Promise<void>((resolve) => {
    worker.on("message", (m: BuilderThreadMessage) => {
      if (m.kind === "ready") resolve();
      else if (m.kind === "report-added") onReportAdded();
    });
  });
  return async () => {
    stopping = true;
    worker.postMessage({ kind: "stop" });
    const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
}
