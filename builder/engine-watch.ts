import type Docker from "dockerode";

export interface EngineWait {
  /** How long to wait for an engine that went away to answer again before giving up on it. */
  waitMs: number;
  pollMs: number;
  /** How long a step killed by a signal waits to learn whether the engine is going down. */
  settleMs: number;
}

const DEFAULT_WAIT: EngineWait = { waitMs: 60_000, pollMs: 250, settleMs: 5_000 };

/**
 * Tells a failing build from an engine that went away under it (restarted, crashed, upgraded). A
 * dockerd that shuts down kills the build's step container and may still send its exit, which reads
 * like the Dockerfile's fault ("returned a non-zero code: 137"): it was shown on the check run as a
 * failed build, never retried. Asking the engine afterwards is not enough, since a quick restart
 * answers again within a second; so the watch holds an event stream open for the whole build, which
 * only a daemon that stops (or dies) closes.
 */
export class EngineWatch {
  #closed = false;
  readonly #stream: NodeJS.ReadableStream | undefined;
  readonly #wait: EngineWait;

  private constructor(private readonly docker: Docker, stream: NodeJS.ReadableStream | undefined, wait: EngineWait) {
    this.#stream = stream;
    this.#wait = wait;
    const closed = (): void => void (this.#closed = true);
    stream?.on("end", closed);
    stream?.on("close", closed);
    stream?.on("error", closed);
    stream?.resume();
  }

  /** Starts watching; an engine that cannot be watched is watched by asking it only. */
  static async start(docker: Docker, wait: EngineWait = DEFAULT_WAIT): Promise<EngineWatch> {
    const stream = await docker.getEvents({ filters: JSON.stringify({ type: ["daemon"] }) }).catch(() => undefined);
    return new EngineWatch(docker, stream, wait);
  }

  /**
   * The build error as infrastructure trouble when the engine went away during the build, returned
   * once it answers again (or the wait is over) so that the queue's retry runs the build on an engine
   * that is back; undefined when the engine stayed up: then the error stands as it was.
   */
  async lost(e: unknown, signal?: AbortSignal): Promise<Error | undefined> {
    const message = ((e as Error).message ?? String(e)).trim();
    let gone = this.#closed || !(await answers(this.docker));
    // A step killed by a signal may be the engine's shutdown under way: give it time to close the stream.
    if (!gone && /non-zero code: (137|143)\b/.test(message)) gone = await this.#goesAway(this.#wait.settleMs, signal);
    if (!gone) return undefined;
    const deadline = Date.now() + this.#wait.waitMs;
    let back = false;
    while (!back && Date.now() < deadline && !signal?.aborted) {
      await sleep(this.#wait.pollMs, signal);
      back = await answers(this.docker);
    }
    const outcome = back ? "it answers again, so the build is retried" : `it did not answer again within ${Math.round(this.#wait.waitMs / 1000)}s`;
    return new Error(`The Docker engine stopped answering during the build (${outcome}): ${message}`);
  }

  stop(): void {
    (this.#stream as { destroy?: () => void } | undefined)?.destroy?.();
  }

  async #goesAway(ms: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !signal?.aborted) {
      if (this.#closed || !(await answers(this.docker))) return true;
      await sleep(this.#wait.pollMs, signal);
    }
    return this.#closed;
  }
}

async function answers(docker: Docker): Promise<boolean> {
  const timeout = AbortSignal.timeout(2000);
  return Promise.race([
    docker.ping().then(() => true, () => false),
    new Promise<boolean>((resolve) => timeout.addEventListener("abort", () => resolve(false))),
  ]);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}
