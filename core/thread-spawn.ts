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
  /** Once running: what a lost worker leaves behind is killed (its group when detached). */
  running?: { pid: number; detached: boolean };
  detached: boolean;
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

interface Spawner {
  worker: Worker;
  /** This worker's commands: one that ends fails only its own. */
  jobs: Map<number, Job>;
}

let current: Spawner | undefined;
let idle: NodeJS.Timeout | undefined;
let nextId = 0;

/**
 * Starts a process from a worker thread. Node's spawn blocks the calling thread until the child has
 * exec'd, and on a machine busy with builds a new child waits for a CPU: in a profiled webhook burst
 * that was ~20 ms of berth's event loop per build, every request arriving meanwhile waiting behind
 * it. From a worker, only the worker waits. The worker is started on first use and stopped when idle.
 */
export function spawnOffThread(file: string, args: readonly string[], opts: ThreadSpawnOptions): SpawnedProcess {
  const id = nextId++;
  const spawner = spawnerNow();
  const detached = opts.detached ?? false;
  let pid!: (p: number | undefined) => void;
  const pidKnown = new Promise<number | undefined>((r) => (pid = r));
  const done = new Promise<SpawnResult>((resolve, reject) => {
    spawner.jobs.set(id, { pid, resolve, reject: (e) => (pid(undefined), reject(e)), detached });
  });
  clearTimeout(idle);
  spawner.worker.postMessage({ id, file, args: [...args], env: opts.env, detached, maxOutput: opts.maxOutput ?? MAX_OUTPUT });
  return { pid: pidKnown, done };
}

function spawnerNow(): Spawner {
  if (current) return current;
  const worker = new Worker(SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } });
  worker.unref(); // a running child keeps berth alive through its own handles, not the worker's
  const spawner: Spawner = { worker, jobs: new Map() };
  const { jobs } = spawner;
  worker.on("message", (m: Reply) => {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.kind === "pid") {
      if (m.pid !== undefined) job.running = { pid: m.pid, detached: job.detached };
      return job.pid(m.pid);
    }
    jobs.delete(m.id);
    if (m.error !== undefined) job.reject(new Error(`could not run ${m.error}`));
    else (job.pid(undefined), job.resolve({ exitCode: m.exitCode ?? null, signal: m.signal ?? null, stdout: m.stdout ?? "", stderr: m.stderr ?? "" }));
    if (jobs.size === 0 && current === spawner) idle = setTimeout(stopIdle, IDLE_MS).unref();
  });
  const failed = (err: Error): void => {
    if (current === spawner) current = undefined;
    for (const [id, job] of jobs) {
      jobs.delete(id);
      // Nobody would read its output or be able to stop it: it goes too.
      if (job.running) kill(job.running.detached ? -job.running.pid : job.running.pid);
      job.reject(err);
    }
  };
  worker.on("error", failed);
  worker.on("exit", (code) => failed(new Error(`the spawning thread exited (${code})`)));
  current = spawner;
  return spawner;
}

function stopIdle(): void {
  const spawner = current;
  if (!spawner || spawner.jobs.size > 0) return;
  current = undefined; // a command from now on starts a new worker; this one has none left
  void spawner.worker.terminate();
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
