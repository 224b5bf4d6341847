import { parentPort } from "node:worker_threads";
import { loadConfig } from "../core/config.js";
import { createLogger } from "../core/logger.js";
import type { BuilderThreadMessage } from "./builder-thread.js";
import { start } from "./main.js";

/** The builder thread (builder-thread.ts): the builder role alone, reporting through the parent's sender. */
const port = parentPort;
if (!port) throw new Error("builder-thread-main runs as a worker thread");
const tell = (m: BuilderThreadMessage): void => port.postMessage(m);
const config = { ...loadConfig(), roles: ["builder" as const] };
const log = createLogger(config.logLevel).child({ thread: "builder" });
const stop = await start(config, log, { sends: false, reportAdded: () => tell({ kind: "report-added" }) });
port.on("message", (m: { kind: string }) => {
  if (m.kind !== "stop") return;
  void stop().then(
    () => port.close(),
    (err: unknown) => {
      log.error({ err }, "builder thread stopped uncleanly");
      port.close();
    },
  );
});
tell({ kind: "ready" });
