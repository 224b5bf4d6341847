import type Docker from "dockerode";

/**
 * containerd's answer to a start when it still holds a task for the container. Either the engine
 * started the container itself that instant (its restart policy, right after the engine restarted),
 * or an engine killed in the middle of a start left a task behind that no start of that container
 * gets past, across engine restarts too (its shim lives on): only a container with a new id starts.
 */
export function isStaleTask(e: unknown): boolean {
  return /task .* already exists/i.test(String((e as Error | undefined)?.message));
}

/**
 * Starts a container, content when it is running afterwards: 304 (already running) is no error, nor is
 * containerd's "task … already exists" when the container runs (the engine started it that instant).
 * Otherwise that answer is thrown: isStaleTask tells it, and a container berth can make anew is best
 * replaced (see ProbeContainer).
 */
export async function startContainer(container: Pick<Docker.Container, "start" | "inspect">): Promise<void> {
  try {
    await container.start();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 304) return;
    if (isStaleTask(e)) {
      const info = await container.inspect().catch(() => undefined);
      if (info?.State?.Running) return;
    }
    throw e;
  }
}
