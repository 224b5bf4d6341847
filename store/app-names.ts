import type { App, Db } from "./db.js";
import { UserError } from "../core/errors.js";
import { lockForTransaction, lockKeys } from "./locks.js";

/**
 * Runs fn in a transaction holding the names lock: what it reads of app names stays true until it
 * commits. One rename at a time across processes, so two apps can never both take a free name.
 */
export async function withNamesLock<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await lockForTransaction(tx, lockKeys.names());
    return fn(tx);
  });
}

/**
 * Gives the app the name its production berth.yaml declares (or takes it back when `name:` is gone).
 * Only the public name changes: hostnames, URLs, the API. A name another app holds, as its public or
 * first name, is refused, because both would claim the same hostnames.
 */
export async function applyManifestName(db: Db, app: App, wanted: string | undefined): Promise<App> {
  const target = wanted === undefined || wanted === app.name ? null : wanted;
  if (target === app.public_name) return app;
  return withNamesLock(db, async (tx) => {
    if (target !== null) {
      const holder = await tx
        .selectFrom("apps")
        .select(["repo_full_name"])
        .where("id", "!=", app.id)
        .where((eb) => eb.or([eb("name", "=", target), eb("public_name", "=", target)]))
        .executeTakeFirst();
      if (holder) {
        throw new UserError(`name: ${target} in berth.yaml is already the name of ${holder.repo_full_name}'s app on this berth; choose another name. The app keeps its current name until then.`);
      }
    }
    return tx.updateTable("apps").set({ public_name: target }).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow();
  });
}

/** Puts back the public name a failed release had taken: the live release still answers under it. */
export async function restoreName(db: Db, appId: number, publicName: string | null): Promise<void> {
  await db.updateTable("apps").set({ public_name: publicName }).where("id", "=", appId).execute();
}
