import type Docker from "dockerode";
import { demux } from "./docker-wire.js";

/** Reads the proxy's access log: the text written to its stdout since a time, at most maxBytes of it. */
export interface AccessLogSource {
  read(sinceMs: number, maxBytes: number): Promise<{ text: string; truncated: boolean }>;
}

/**
 * The access log of a proxy container through the Engine API (`docker logs --since`), read as a stream
 * and cut at maxBytes, so a burst of traffic costs berth a bounded read; what was cut is read on the
 * next pass (the caller moves its cursor only as far as the lines it got). The json-file driver keeps
 * at most 30 MB of it (proxy-plan.ts), so nothing grows without end on the engine either.
 */
export function containerAccessLog(docker: Docker, container: string): AccessLogSource {
  return {
    read: (sinceMs, maxBytes) =>
      new Promise((resolve, reject) => {
        docker.modem.dial(
          {
            path: `/containers/${encodeURIComponent(container)}/logs?`,
            method: "GET",
            isStream: true,
            statusCodes: { 200: true, 404: "no such container", 500: "server error" },
            // Whole seconds: the engine's `since` has no finer unit; the overlap is harmless (newest time wins).
            options: { stdout: true, stderr: false, follow: false, timestamps: false, since: Math.max(0, Math.floor(sinceMs / 1000)) },
          },
          (err: Error | null, result: unknown) => {
            if (err) return reject(err);
            const stream = result as NodeJS.ReadableStream & { destroy?: () => void };
            const chunks: Buffer[] = [];
            let size = 0;
            let truncated = false;
            stream.on("data", (chunk: Buffer) => {
              if (truncated) return;
              chunks.push(chunk);
              size += chunk.length;
              if (size >= maxBytes) {
                truncated = true;
                stream.destroy?.();
                finish();
              }
            });
            const finish = (): void => {
              const text = demux(Buffer.concat(chunks));
              // A cut stream may end mid-line: drop the partial last line, it is read again next time.
              resolve({ text: truncated ? text.slice(0, text.lastIndexOf("\n") + 1) : text, truncated });
            };
            stream.on("end", finish);
            stream.on("close", finish);
            stream.on("error", (e: Error) => (truncated ? undefined : reject(e)));
          },
        );
      }),
  };
}
