import type { WebSocket } from "ws";
import { UsageError, type Command } from "./command.js";

/** Output frames from berth: first byte 1 is stdout, 2 stderr (server/exec-bridge.ts). */
const STDERR = 2;
/** Input goes out in slices below berth's largest accepted frame (64 KiB). */
const SLICE = 32 * 1024;
/** Input waiting to be sent beyond this pauses stdin: a large pipe is streamed, not buffered whole. */
const HIGH_WATER = 1 << 20;

/** The terminal or pipes the command talks to; the process's own unless a test gives others. */
export interface ExecStdio {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/**
 * `berth exec APP [--env pr-7] [--container web] -- CMD…`: a command in a container of the app
 * environment through the exec WebSocket. With a terminal on both ends, an interactive TTY (raw mode,
 * resizes follow the window); otherwise plain pipes, stdout and stderr apart. Exits with the command's code.
 */
export const EXEC_COMMAND: Command = {
  name: "exec",
  usage: "<app> [--env production|pr-<N>] [--container NAME] [-T] [-- CMD…]",
  summary: "Run a command (default: a shell) in a container of an app environment; interactive on a terminal.",
  help: [
    "--container: web (default), a process type of berth.yaml, a service name, or a container's name.",
    "-T/--no-tty: plain pipes even on a terminal. Without a terminal, stdin is piped to the command and its",
    "stdout and stderr come back apart. berth exits with the command's exit code. Admin token only;",
    "in the dashboard, users with write access open the same terminal from the app's page.",
  ].join("\n"),
  options: { env: { type: "string" }, container: { type: "string" }, "no-tty": { type: "boolean", short: "T" } },
  positionals: [1, 65],
  run: async (ctx) => {
    const [app, ...cmd] = ctx.args as [string, ...string[]];
    if (!/^[a-z0-9-]{1,63}$/.test(app)) throw new UsageError(`${app} is not an app name`);
    const io: ExecStdio = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
    const tty = Boolean(io.stdin.isTTY && io.stdout.isTTY) && !ctx.values["no-tty"];
    const q = new URLSearchParams({ environment: (ctx.values.env as string | undefined) ?? "production", container: (ctx.values.container as string | undefined) ?? "web", tty: String(tty) });
    for (const word of cmd) q.append("cmd", word);
    if (tty) {
      q.set("cols", String(io.stdout.columns || 80));
      q.set("rows", String(io.stdout.rows || 24));
    }
    return session(ctx.socket(`/apps/${app}/exec?${q}`), io, tty);
  },
};

/** Runs one exec session to its end; resolves with the command's exit code (1 when berth ended it). */
function session(ws: WebSocket, io: ExecStdio, tty: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let code: number | null = null;
    let opened = false;
    const onData = (chunk: Buffer): void => {
      for (let i = 0; i < chunk.length; i += SLICE) ws.send(chunk.subarray(i, i + SLICE), { binary: true }, resumeWhenDrained);
      if (ws.bufferedAmount > HIGH_WATER) io.stdin.pause();
    };
    const resumeWhenDrained = (): void => {
      if (ws.bufferedAmount < HIGH_WATER / 4 && io.stdin.isPaused()) io.stdin.resume();
    };
    const onEnd = (): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: "eof" }));
    };
    const onResize = (): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: "resize", cols: io.stdout.columns, rows: io.stdout.rows }));
    };
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body = (body + c).slice(0, 4096)));
      res.on("end", () => {
        let message = `HTTP ${res.statusCode}`;
        try {
          message = (JSON.parse(body) as { error?: string }).error ?? message;
        } catch {
          /* not JSON */
        }
        reject(new Error(message));
      });
    });
    ws.on("error", (e) => {
      if (!opened) reject(e);
    });
    ws.on("open", () => {
      opened = true;
      if (tty) {
        io.stdin.setRawMode(true);
        io.stdout.on("resize", onResize);
      }
      io.stdin.on("data", onData);
      if (!tty) io.stdin.on("end", onEnd);
      io.stdin.resume();
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        (data[0] === STDERR ? io.stderr : io.stdout).write(data.subarray(1));
        return;
      }
      const m = JSON.parse(data.toString("utf8")) as { type: string; code?: number | null; message?: string };
      if (m.type === "exit") code = m.code ?? null;
      else if (m.type === "error") io.stderr.write(`${tty ? "\r\n" : ""}berth: ${m.message}\n`);
    });
    ws.on("close", () => {
      if (!opened) return;
      if (tty) io.stdin.setRawMode(false);
      io.stdout.off("resize", onResize);
      io.stdin.off("data", onData);
      io.stdin.off("end", onEnd);
      io.stdin.pause();
      resolve(code ?? 1);
    });
  });
}
