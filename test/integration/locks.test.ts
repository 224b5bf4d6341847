import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../../store/db.js";
import { lockForTransaction, lockKeys, withLock, withLockIfFree } from "../../store/locks.js";
import { Sensitive } from "../../core/sensitive.js";
import { freshDatabase } from "../support/services.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("advisory locks (Postgres)", () => {
  let db: Db;
  let other: Db; // a second pool stands in for a second berth process
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url), 3);
    other = createDb(new Sensitive(fresh.url), 3);
  });

  afterAll(async () => {
    await db.destroy();
    await other.destroy();
    await drop();
  });

  it("serializes holders of one key across pools, and lets other keys run meanwhile", async () => {
    const events: string[] = [];
    const hold = (pool: Db, key: ReturnType<typeof lockKeys.release>, tag: string, ms: number) =>
      withLock(pool, key, async () => {
        events.push(`${tag}+`);
        await tick(ms);
        events.push(`${tag}-`);
      });
    const a = hold(db, lockKeys.release(1, "production"), "a", 150);
    await tick(30);
    const b = hold(other, lockKeys.release(1, "production"), "b", 10);
    const c = hold(other, lockKeys.release(1, "pr-2"), "c", 10); // another environment of the same app
    await Promise.all([a, b, c]);
    expect(events.indexOf("b+")).toBeGreaterThan(events.indexOf("a-"));
    expect(events.indexOf("c-")).toBeLessThan(events.indexOf("a-"));
  });

  it("gives the lock back when fn throws", async () => {
    await expect(withLock(db, lockKeys.ingress("local"), async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await withLockIfFree(other, lockKeys.ingress("local"), async () => "free")).toEqual({ value: "free" });
  });

  it("runs withLockIfFree only when nobody holds the lock", async () => {
    let release!: () => void;
    const held = withLock(db, lockKeys.reconcile(), () => new Promise<void>((r) => (release = r)));
    await tick(30);
    expect(await withLockIfFree(other, lockKeys.reconcile(), async () => "ran")).toBeUndefined();
    release();
    await held;
    expect(await withLockIfFree(other, lockKeys.reconcile(), async () => "ran")).toEqual({ value: "ran" });
  });

  it("keeps kinds apart: a lock taken while holding another never waits on itself", async () => {
    // The release lock is held while the ingress lock of the same server is taken, as a release does.
    const value = await withLock(db, lockKeys.release(7, "production"), () => withLock(db, lockKeys.ingress("7:production"), async () => "nested"));
    expect(value).toBe("nested");
  });

  it("holds a transaction lock until commit", async () => {
    const events: string[] = [];
    const first = db.transaction().execute(async (tx) => {
      await lockForTransaction(tx, lockKeys.dispatch(5));
      events.push("first+");
      await tick(100);
      events.push("first-");
    });
    await tick(30);
    await other.transaction().execute(async (tx) => {
      await lockForTransaction(tx, lockKeys.dispatch(5));
      events.push("second");
    });
    await first;
    expect(events).toEqual(["first+", "first-", "second"]);
  });

  it("does not starve the holder when waiters outnumber the pool's connections", async () => {
    const order: number[] = [];
    // Ten waiters on a pool of three: blocking waits would pin every connection and deadlock the holder's inner query.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        withLock(db, lockKeys.names(), async () => {
          await db.selectNoFrom((eb) => eb.val(1).as("one")).execute();
          order.push(i);
        }),
      ),
    );
    expect(order.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
