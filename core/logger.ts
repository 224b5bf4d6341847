import { pino, type Logger } from "pino";

export type { Logger };

/** The process logger: JSON lines on stdout, secrets redacted by path as a second line of defence. */
export function createLogger(level = "info"): Logger {
  return pino({
    name: "berth",
    level,
    redact: ["token", "*.token", "privateKey", "headers.authorization", "*.headers.authorization"],
  });
}
