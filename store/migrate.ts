import { Migrator } from "kysely";
import { migrations } from "../migrations/index.js";
import type { Db } from "./db.js";
import { lockKeys, withLock } from "./locks.js";

/** Applies pending migrations under an advisory lock, so several berth processes may start at once. */
export async function migrate(db: Db): Promise<string[]> {
  return withLock(db, lockKeys.migrations(), async () => {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    return (results ?? []).map((r) => r.migrationName);
  });
}
