import type { Redis } from "ioredis";
import type { Logger } from "../core/logger.js";

const CHANNEL = "berth:cancel";

/**
 * Stops a deployment's work in whichever process runs it. BullMQ aborts only jobs of the worker it is
 * asked in, so a superseding webhook publishes the deployment id on a Redis channel and every builder
 * aborts the matching running build (its git fetch, or the Docker build through the Engine API).
 */
export class CancelBus {
  readonly #running = new Map<number, AbortController>();

  constructor(
    private readonly publisher: Redis,
    private readonly log: Logger,
  ) {}

  /** Listens for cancellations on a dedicated connection (a subscribed Redis connection can do nothing else). */
  async listen(subscriber: Redis): Promise<void> {
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== CHANNEL) return;
      const id = Number(message);
      const controller = this.#running.get(id);
      if (controller && !controller.signal.aborted) {
        this.log.info({ deploymentId: id }, "cancelling superseded build");
        controller.abort(new Error(`deployment ${id} was superseded by a newer commit`));
      }
    });
    await subscriber.subscribe(CHANNEL);
  }

  /** Asks every process to stop this deployment's running work. */
  async cancel(deploymentId: number): Promise<void> {
    await this.publisher.publish(CHANNEL, String(deploymentId));
  }

  /** A signal that aborts when the deployment is cancelled or the given parent signal aborts. */
  track(deploymentId: number, parent?: AbortSignal): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const onParent = (): void => controller.abort(parent?.reason);
    parent?.addEventListener("abort", onParent, { once: true });
    this.#running.set(deploymentId, controller);
    return {
      signal: controller.signal,
      done: () => {
        parent?.removeEventListener("abort", onParent);
        if (this.#running.get(deploymentId) === controller) this.#running.delete(deploymentId);
      },
    };
  }
}
