import { sql } from "kysely";
import { systemClock, type Clock } from "../core/clock.js";
import type { Db } from "./db.js";

/**
 * Every Postgres advisory lock berth takes, named in one place with one key scheme: a kind (the
 * lock's first int4, distinct per kind) and a name hashed into the second. Keeping kinds apart means
 * two locks that nest (a release takes the ingress lock) can never hash to the same key and wait
 * on each other; two names of one kind that collide only serialize, which is safe.
 */
export interface LockKey {
  readonly kind: number;
  readonly name: string;
}

const KIND = {
  migrations: 0x62657274, // "bert"
  names: 0x6e616d65, // "name"
  dispatch: 0x62756c64, // "buld"
  release: 0x72656c73, // "rels"
  ingress: 0x696e6772, // "ingr"
  reconcile: 0x72657275, // "reru"
  inbox: 0x696e6278, // "inbx"
} as const;

export const lockKeys = {
  /** Schema migrations, at start. */
  migrations: (): LockKey => ({ kind: KIND.migrations, name: "" }),
  /** App names: creating an app and renaming one. */
  names: (): LockKey => ({ kind: KIND.names, name: "" }),
  /** One build dispatcher per app. */
  dispatch: (appId: number): LockKey => ({ kind: KIND.dispatch, name: String(appId) }),
  /** One release or teardown per environment. */
  release: (appId: number, environment: string): LockKey => ({ kind: KIND.release, name: `${appId}:${environment}` }),
  /** One ingress config writer per server. */
  ingress: (server: string): LockKey => ({ kind: KIND.ingress, name: server }),
  /** One reconciler pass at a time across all processes. */
  reconcile: (): LockKey => ({ kind: KIND.reconcile, name: "" }),
  /** One webhook inbox processor at a time across all processes: deliveries are processed in order. */
  inbox: (): LockKey => ({ kind: KIND.inbox, name: "" }),
};

const tryLock = (key: LockKey) => sql<{ ok: boolean }>`select pg_try_advisory_lock(${key.kind}::int, hashtext(${key.name})) as ok`;
const unlock = (key: LockKey) => sql`select pg_advisory_unlock(${key.kind}::int, hashtext(${key.name}))`;

/**
 * Runs fn holding a session advisory lock, so any number of berth processes serialize on it.
 * Waiters poll and give their connection back between tries: blocking in pg_advisory_lock would pin
 * one pooled connection per waiter, and enough waiters starve the holder.
 */
export async function withLock<T>(db: Db, key: LockKey, fn: () => Promise<T>, clock: Clock = systemClock): Promise<T> {
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    const result = await holding(db, key, fn);
    if (result.held) return result.value;
    await clock.sleep(wait);
  }
}

/** Runs fn if the lock is free right now; undefined (fn not run) when another holder has it. */
export async function withLockIfFree<T>(db: Db, key: LockKey, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
  const result = await holding(db, key, fn);
  return result.held ? { value: result.value } : undefined;
}

/** Takes the lock for the rest of the transaction tx: what it reads stays true until it commits. */
export async function lockForTransaction(tx: Db, key: LockKey): Promise<void> {
  await sql`select pg_advisory_xact_lock(${key.kind}::int, hashtext(${key.name}))`.execute(tx);
}

async function holding<T>(db: Db, key: LockKey, fn: () => Promise<T>): Promise<{ held: false } | { held: true; value: T }> {
  return db.connection().execute(async (conn) => {
    const { rows } = await tryLock(key).execute(conn);
    if (!rows[0]?.ok) return { held: false as const };
    try {
      return { held: true as const, value: await fn() };
    } finally {
      await unlock(key).execute(conn);
    }
  });
}
