import { systemClock, type Clock } from "../core/clock.js";

/** A small map whose entries expire after a fixed time; the oldest entry goes when it is full. */
export class BoundedTtl<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: Clock = systemClock,
  ) {}

  get(key: string): V | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (this.clock.now() - hit.at < this.ttlMs) return hit.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key); // re-inserted last: the Map's order is the eviction order
    this.#entries.set(key, { value, at: this.clock.now() });
    while (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }
}
