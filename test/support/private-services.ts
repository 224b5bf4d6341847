import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./services.js";

// Chaos tests stop, kill and wipe these; the machine's shared Postgres and Redis are never touched.

const PG_BIN = "/usr/lib/postgresql/15/bin";

/** A Postgres cluster of its own in a temp dir, on a free port, run as the postgres user. */
export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const asPostgres = (file: string, args: string[]): string =>
  execFileSync("runuser", ["-u", "postgres", "--", join(PG_BIN, file), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "berth-chaos-pg-"));
  const { uid, gid } = userIds("postgres");
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  const port = await freePort();
  asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const start = async (): Promise<void> => {
    asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  };
  const stop = async (): Promise<void> => {
    asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    destroy: async () => {
      try {
        await stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server of its own (AOF on, as scripts/deps.sh configures the shared one), on a free port. */
export interface PrivateRedis {
  url: string;
  /** SIGTERM, as an operator's stop (AOF flushed); start() brings it back on the same dir and port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it as an operator's restart does (SIGTERM: AOF flushed) and starts it again on the same dir. */
  restart(): Promise<void>;
  flushall(): void;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), "berth-chaos-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const cli = (...args: string[]): string => execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  const start = async (): Promise<void> => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction"], { stdio: "ignore" });
    await waitFor("private redis", () => {
      try {
        return cli("ping") === "PONG";
      } catch {
        return false;
      }
    }, 10_000, 50);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    flushall: () => void cli("flushall"),
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function userIds(name: string): { uid: number; gid: number } {
  return { uid: Number(execFileSync("id", ["-u", name], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", name], { encoding: "utf8" })) };
}
