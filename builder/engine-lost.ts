import type Docker from "dockerode";

export interface EngineWait {
  /** How long to wait for an engine that went away to answer again before giving up on it. */
  waitMs: number;
  pollMs: number;
}

const DEFAULT_WAIT: EngineWait = { waitMs: 60_000, pollMs: 250 };

/**
 * Tells a failing build from an engine that went away under it (restarted, crashed, upgraded). A
 * dockerd that shuts down kills the build's step container and may still send its exit, which reads
 * like the Dockerfile's fault ("returned a non-zero code: 137"): shown on the check run as a failed
 * build, never retried. So a build error is checked against the engine itself: when it no longer
 * answers, the error is infrastructure trouble, returned as such once the engine answers again (or
 * the wait is over), so that the queue's retry runs the build on an engine that is back. Returns
 * undefined while the engine answers: then the error stands as it was.
 */
export async function engineLost(docker: Docker, e: unknown, signal?: AbortSignal, wait: EngineWait = DEFAULT_WAIT): Promise<Error | undefined> {
  const message = (e as Error).message ?? String(e);
  // A step killed by a signal while dockerd was still answering may be its shutdown under way: look again shortly after.
  if (await answers(docker)) {
    if (!/non-zero code: (137|143)\b/.test(message)) return undefined;
    await sleep(1000, signal);
    if (await answers(docker)) return undefined;
  }
  const deadline = Date.now() + wait.waitMs;
  let back = false;
  while (!back && Date.now() < deadline && !signal?.aborted) {
    await sleep(wait.pollMs, signal);
    back = await answers(docker);
  }
  const outcome = back ? "it answers again, so the build is retried" : `it did not answer again within ${Math.round(wait.waitMs / 1000)}s`;
  return new Error(`The Docker engine stopped answering during the build (${outcome}): ${message.trim()}`);
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
