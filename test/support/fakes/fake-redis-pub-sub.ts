import { EventEmitter } from "node:events";

/**
 * The three Redis calls CancelBus makes (publish; subscribe and its "message" events), delivered in
 * memory, so the real CancelBus runs without Redis. One instance plays publisher and subscriber.
 */
export class FakeRedisPubSub extends EventEmitter {
  readonly channels = new Set<string>();
  readonly published: { channel: string; message: string }[] = [];

  async subscribe(channel: string): Promise<number> {
    this.channels.add(channel);
    return this.channels.size;
  }

  async publish(channel: string, message: string): Promise<number> {
    this.published.push({ channel, message });
    if (!this.channels.has(channel)) return 0;
    this.emit("message", channel, message);
    return 1;
  }
}
