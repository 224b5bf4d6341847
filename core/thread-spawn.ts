import { Worker } from "node:worker_threads";

export interface SpawnResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ThreadSpawnOptions {
  env: Record<string, string | undefined>;
  /** Leads a process group of its own (killed whole with `process.kill(-pid)`). */
  detached?: boolean;
  /** Bytes of each of stdout and stderr kept (the first ones); the rest is read and dropped. */
  maxOutput?: number;
}

export interface SpawnedProcess {
  /** Its pid once running; undefined when it could not be started. */
  pid: Promise<number | undefined>;
  /** Resolves when it has exited and its output is closed; rejects when it could not be started. */
  done: Promise<SpawnResult>;
}

/** The worker stops after this long without a command: an idle berth keeps no second isolate. */
const IDLE_MS = 30_000;
const MAX_OUTPUT = 1024 * 1024;

// CommonJS, evaluated in the worker: it only spawns and relays.
const SOURCE = `
const { parentPort } = require("node:worker_threads");
const { spawn } = require("node:child_process");
parentPort.on("message", ({ id, file, args, env, detached, maxOutput }) => {
  let finished = false;
  const finish = (m) => { if (!finished) { finished = true; parentPort.postMessage({ id, kind: "done", ...m }); } };
  let child;
  try {
    child = spawn(file, args, { env, detached, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    return finish({ error: String(err && err.message) });
  }
  if (child.pid !== undefined) parentPort.postMessage({ id, kind: "pid", pid: child.pid });
  const kept = { stdout: [], stderr: [] };
  const size = { stdout: 0, stderr: 0 };
  for (const k of ["stdout", "stderr"]) child[k].on("data", (d) => {
    if (size[k] >= maxOutput) return;
    kept[k].push(d.subarray(0, maxOutput - size[k]));
    size[k] += d.length;
  });
  child.on("error", (err) => finish({ error: String(err && err.message) }));
  child.on("close", (exitCode, signal) => finish({
    exitCode, signal, stdout: Buffer.concat(kept.stdout).toString("utf8"), stderr: Buffer.concat(kept.stderr).toString("utf8"),
  }));
});
`;

interface Job {
  pid: (pid: number | undefined) => void;
  resolve: (r: SpawnResult) => void;
  reject: (e: Error) => void;
}

interface Reply {
  id: number;
  kind: "pid" | "done";
  pid?: number;
  error?: string;
  exitCode?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
}

let worker: Worker | undefined;
let idle: NodeJS.Timeout | undefined;
let nextId = 0;
const jobs = new Map<number, Job>();

/**
 * Starts a process from a worker thread. Node's spawn blocks the calling thread until the child has
 * exec'd, and on a machine busy with builds a new child waits for a CPU: in a profiled webhook burst
 * that was ~20 ms of berth's event loop per build, every request arriving meanwhile waiting behind
 * it. From a worker, only the worker waits. The worker is started on first use and stopped when idle.
 */
export function spawnOffThread(file: string, args: readonly string[], opts: ThreadSpawnOptions): SpawnedProcess {
  const id = nextId++;
  let pid!: (p: number | undefined) => void;
  const pidKnown = new Promise<number | undefined>((r) => (pid = r));
  const done = new Promise<SpawnResult>((resolve, reject) => {
    jobs.set(id, {
      pid,
      resolve,
      reject: (e) => (pid(undefined), reject(e)),
    });
  });
  clearTimeout(idle);
  spawner().postMessage({ id, file, args: [...args], env: opts.env, detached: opts.detached ?? false, maxOutput: opts.maxOutput ?? MAX_OUTPUT });
  return { pid: pidKnown, done };
}

function spawner(): Worker {
  if (worker) return worker;
  const w = new Worker(SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } });
  w.unref(); // a running child keeps berth alive through its own handles, not the worker's
  w.on("message", (m: Reply) => {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.kind === "pid") return job.pid(m.pid);
    jobs.delete(m.id);
    if (m.error !== undefined) job.reject(new Error(`could not run ${m.error}`));
    else (job.pid(undefined), job.resolve({ exitCode: m.exitCode ?? null, signal: m.signal ?? null, stdout: m.stdout ?? "", stderr: m.stderr ?? "" }));
    if (jobs.size === 0) idle = setTimeout(stopSpawner, IDLE_MS).unref();
  });
  const failed = (err: Error): void => {
    if (worker === w) worker = undefined;
    for (const [id, job] of jobs) (jobs.delete(id), job.reject(err));
  };
  w.on("error", failed);
  w.on("exit", (code) => failed(new Error(`the spawning thread exited (${code})`)));
  worker = w;
  return w;
}

function stopSpawner(): void {
  if (jobs.size > 0 || !worker) return;
  const w = worker;
  worker = undefined;
  void w.terminate();
}
