import type { AppContainer } from "../releaser/container-logs.js";
import { PRODUCTION } from "../core/names.js";

/** What an exec request asks for, validated: `?environment=&container=&cmd=…&cmd=…&tty=`. */
export interface ExecQuery {
  environment: string;
  /** A process name (web, a process type, a service) or one of the environment's container names. */
  container: string;
  /** argv of the command; a login shell when none is given. */
  cmd: string[];
  tty: boolean;
  cols: number;
  rows: number;
}

/** The command run when none is asked for: bash where the image has it, else sh. */
export const DEFAULT_SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"];

const MAX_ARGS = 64;
const MAX_ARGV_BYTES = 8192;

/** Parses an exec request's query; a message saying what is wrong when it cannot. */
export function parseExecQuery(q: URLSearchParams): ExecQuery | string {
  const environment = q.get("environment") || PRODUCTION;
  if (!/^(production|pr-\d{1,9})$/.test(environment)) return "environment is production or pr-<N>.";
  const container = q.get("container") || "web";
  if (!/^[a-z0-9][a-z0-9_.-]{0,127}$/.test(container)) return "container is web, a process type of berth.yaml, a service name, or one of the environment's container names.";
  const cmd = q.getAll("cmd");
  if (cmd.length > MAX_ARGS) return `cmd has at most ${MAX_ARGS} words.`;
  if (cmd.reduce((n, w) => n + Buffer.byteLength(w), 0) > MAX_ARGV_BYTES) return `cmd has at most ${MAX_ARGV_BYTES} bytes.`;
  if (cmd.some((w) => w.includes("\0"))) return "cmd words cannot hold NUL bytes.";
  const ttyRaw = q.get("tty") ?? "true";
  if (!["true", "false", "1", "0"].includes(ttyRaw)) return "tty is true or false.";
  const size = (name: string, fallback: number, max: number): number | string => {
    const raw = q.get(name);
    if (raw === null) return fallback;
    const n = Number(raw);
    return /^\d{1,4}$/.test(raw) && n >= 1 && n <= max ? n : `${name} is a number from 1 to ${max}.`;
  };
  const cols = size("cols", 80, 1000);
  const rows = size("rows", 24, 1000);
  if (typeof cols === "string") return cols;
  if (typeof rows === "string") return rows;
  return { environment, container, cmd: cmd.length ? cmd : DEFAULT_SHELL, tty: ttyRaw === "true" || ttyRaw === "1", cols, rows };
}

/**
 * The container an exec request means, among those berth labelled for the app environment: a running
 * one whose process or name is `wanted`. Never a raw container id from the client.
 */
export function pickContainer(containers: AppContainer[], wanted: string): AppContainer | string {
  const running = containers.filter((c) => c.running);
  const hit = running.find((c) => c.name === wanted) ?? running.find((c) => c.process === wanted);
  if (hit) return hit;
  if (containers.length === 0) return "no containers run in this environment.";
  const names = [...new Set(running.map((c) => c.process))].join(", ");
  return `no running container ${wanted} in this environment${names ? `; its processes: ${names}` : ""}.`;
}

/** A control message from the client (a text frame): a terminal resize, or the end of its input. */
export type ExecControl = { type: "resize"; cols: number; rows: number } | { type: "eof" };

/** Parses a text frame; undefined for anything else (ignored). */
export function parseControl(text: string): ExecControl | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const dim = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1000;
  if (o.type === "resize" && dim(o.cols) && dim(o.rows)) return { type: "resize", cols: o.cols, rows: o.rows };
  if (o.type === "eof") return { type: "eof" };
  return undefined;
}

/** Whether a browser's Origin is berth's own (BERTH_PUBLIC_URL): a cookie-authenticated upgrade from any other site is cross-site WebSocket hijacking. */
export function sameOrigin(origin: string | undefined, publicUrl: string): boolean {
  if (!origin) return false;
  try {
    return new URL(origin).origin === new URL(publicUrl).origin;
  } catch {
    return false;
  }
}
