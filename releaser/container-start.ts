import type Docker from "dockerode";

/**
 * Starts a container, content when it is running afterwards: 304 (already running) is no error, nor is
 * containerd's "task … already exists", which an engine answers when it started the container itself
 * that instant (its restart policy, right after the engine restarted) or carried out a start it then
 * reported as failed.
 */
export async function startContainer(container: Docker.Container): Promise<void> {
  try {
    await container.start();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 304) return;
    if (/task .* already exists/i.test(String((e as Error).message))) {
      const info = await container.inspect().catch(() => undefined);
      if (info?.State?.Running) return;
    }
    throw e;
  }
}
