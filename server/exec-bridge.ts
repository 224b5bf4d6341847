import { Writable, type Duplex, type Readable } from "node:stream";
import type Docker from "dockerode";
import type { WebSocket } from "ws";
import { parseControl } from "./exec-request.js";

export interface ExecBridgeLimits {
  /** A session with no input and no output for this long is closed. */
  idleMs: number;
  /** A session is closed after this long, busy or not. */
  maxMs: number;
}

/** How a session ended, for berth's log. */
export interface ExecEnd {
  reason: "exited" | "client closed" | "idle" | "too long" | "failed";
  exitCode: number | null;
  bytesIn: number;
  bytesOut: number;
}

/** Output waiting for a slow client beyond this pauses the command's output stream. */
const HIGH_WATER = 1 << 20;

/** Stream numbers of output frames: the first byte of each binary message berth sends. */
export const STDOUT = 1;
export const STDERR = 2;

/**
 * Joins a WebSocket to a started `docker exec`: input frames to the command's stdin, its output to
 * binary frames (first byte: stream), resizes to the exec's TTY, then its exit code as a text frame.
 * Closes on the command's exit, the client's close, idleness or the session's time limit; onEnd once.
 */
export function bridgeExec(
  ws: WebSocket,
  exec: Docker.Exec,
  stream: Duplex,
  o: { tty: boolean; demux: (s: Readable, out: Writable, err: Writable) => void },
  limits: ExecBridgeLimits,
  onEnd: (end: ExecEnd) => void,
): void {
  let bytesIn = 0;
  let bytesOut = 0;
  let ended = false;
  let idle: NodeJS.Timeout | undefined;
  const finish = (reason: ExecEnd["reason"], exitCode: number | null, message?: string): void => {
    if (ended) return;
    ended = true;
    clearTimeout(idle);
    clearTimeout(longest);
    stream.destroy();
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify(message ? { type: "error", message } : { type: "exit", code: exitCode }));
      ws.close(1000, reason);
    }
    onEnd({ reason, exitCode, bytesIn, bytesOut });
  };
  const touch = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => finish("idle", null, `Closed after ${Math.round(limits.idleMs / 60_000)} idle minutes.`), limits.idleMs);
  };
  const longest = setTimeout(() => finish("too long", null, `Closed: a terminal stays open at most ${Math.round(limits.maxMs / 60_000)} minutes.`), limits.maxMs);
  touch();

  const sender = (channel: number): Writable =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        touch();
        bytesOut += chunk.length;
        if (ws.readyState !== ws.OPEN) return done();
        ws.send(Buffer.concat([Buffer.of(channel), chunk]), { binary: true });
        // A client that reads slower than the command writes holds the command back, not berth's memory.
        if (ws.bufferedAmount < HIGH_WATER) return done();
        const wait = setInterval(() => {
          if (ws.bufferedAmount < HIGH_WATER / 4 || ws.readyState !== ws.OPEN) {
            clearInterval(wait);
            done();
          }
        }, 10);
      },
    });
  if (o.tty) stream.pipe(sender(STDOUT));
  else o.demux(stream, sender(STDOUT), sender(STDERR));

  const exited = (): void => {
    if (!ended) void exitCodeOf(exec).then((code) => finish("exited", code), () => finish("exited", null));
  };
  stream.once("end", exited);
  stream.once("close", exited);
  stream.on("error", () => finish("failed", null, "The connection to Docker failed."));

  ws.on("message", (data: Buffer, isBinary: boolean) => {
    touch();
    if (isBinary) {
      bytesIn += data.length;
      // Docker reads slower than a client can send: stop reading the socket until it drained, so
      // input waits in TCP buffers, not in berth's memory.
      if (!stream.destroyed && stream.writable && !stream.write(data)) {
        ws.pause();
        stream.once("drain", () => ws.resume());
      }
      return;
    }
    const control = parseControl(data.toString("utf8"));
    if (control?.type === "resize" && o.tty) exec.resize({ h: control.rows, w: control.cols }).catch(() => {});
    else if (control?.type === "eof" && !o.tty) stream.end();
  });
  ws.on("close", () => finish("client closed", null));
  ws.on("error", () => finish("failed", null));
}

/** The exec's exit code: Docker reports it a moment after the output ends. */
async function exitCodeOf(exec: Docker.Exec): Promise<number | null> {
  for (let i = 0; i < 20; i++) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode ?? null;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}
