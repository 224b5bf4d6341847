import { systemClock, type Clock } from "../core/clock.js";
import type { Access } from "../github/user-client.js";

/**
 * What GitHub said a user may do with a repository, kept briefly: a page of 50 apps must not ask
 * GitHub 50 times on every view, and a revoked permission must not work for long. Bounded: the oldest
 * entry goes when it is full. Lookups of the same key with the same credential while one is in flight
 * share it: a lookup made with one credential (an API token whose GitHub sign-in expired) must not fail
 * another (the same user's valid dashboard session), which would then be signed out.
 */
export class AccessCache {
  readonly #entries = new Map<string, { access: Access; at: number }>();
  readonly #inflight = new Map<string, Promise<Access>>();

  constructor(
    private readonly o: { ttlMs?: number; maxEntries?: number; clock?: Clock } = {},
  ) {}

  async get(user: string, repo: string, load: () => Promise<Access>, credential = ""): Promise<Access> {
    const key = `${user}\n${repo.toLowerCase()}`;
    const flight = `${key}\n${credential}`;
    const now = (this.o.clock ?? systemClock).now();
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < (this.o.ttlMs ?? 60_000)) return hit.access;
    const pending = this.#inflight.get(flight);
    if (pending) return pending;
    const p = load().then((access) => {
      this.#entries.delete(key); // re-inserted last: the Map's order is the eviction order
      this.#entries.set(key, { access, at: (this.o.clock ?? systemClock).now() });
      while (this.#entries.size > (this.o.maxEntries ?? 10_000)) this.#entries.delete(this.#entries.keys().next().value!);
      return access;
    });
    this.#inflight.set(flight, p);
    try {
      return await p;
    } finally {
      this.#inflight.delete(flight);
    }
  }

  /** Forgets a user's entries (they signed out). */
  forget(user: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(`${user}\n`)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
