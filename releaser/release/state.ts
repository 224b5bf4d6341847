import type { Insertable } from "kysely";
import type { Db, PathRoute, Release, ReleasesTable } from "../../store/db.js";
import { getEnvironment } from "../../store/environment-store.js";

/** Why a built deployment must not be released any more: a newer commit is on its way, or its preview closed. */
export async function staleReason(db: Db, appId: number, deploymentId: number, environment: string): Promise<{ title: string; summary: string } | undefined> {
  const newer = await db
    .selectFrom("deployments")
    .select(["sha"])
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where("id", ">", deploymentId)
    .where("state", "in", ["queued", "building", "releasing", "live"])
    .orderBy("id", "desc")
    .executeTakeFirst();
  if (newer) {
    const short = newer.sha.slice(0, 7);
    return { title: `Superseded by ${short}`, summary: `A newer commit (\`${short}\`) for \`${environment}\` arrived before this one was released.` };
  }
  const env = await getEnvironment(db, appId, environment);
  if (env && env.state !== "open") return { title: "Cancelled: the environment was removed", summary: `\`${environment}\` was closed before this commit was released.` };
  return undefined;
}

/** Makes the new release the live one and the previous one draining, in one transaction. */
export async function switchLive(db: Db, release: Release, previous: Release | undefined, upstream: string, paths: PathRoute[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (previous) await tx.updateTable("releases").set({ state: "draining" }).where("id", "=", previous.id).execute();
    const routes = paths.length ? JSON.stringify(paths) : null;
    await tx.updateTable("releases").set({ state: "live", upstream, routes, live_at: new Date() }).where("id", "=", release.id).execute();
  });
}

/** Records a release whose container was just created; it goes live only through switchLive. */
export async function recordRelease(db: Db, row: Insertable<ReleasesTable>): Promise<Release> {
  return db.insertInto("releases").values(row).returningAll().executeTakeFirstOrThrow();
}

/** A release that never became healthy: it failed, and the one it was replacing is live again. */
export async function failRelease(db: Db, release: Release, previous: Release | undefined): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable("releases").set({ state: "failed", stopped_at: new Date() }).where("id", "=", release.id).execute();
    if (previous) await tx.updateTable("releases").set({ state: "live" }).where("id", "=", previous.id).where("state", "=", "draining").execute();
  });
}

/** Releases of an environment switched away from, whose containers are still to be stopped. */
export async function drainingReleases(db: Db, appId: number, environment: string): Promise<Release[]> {
  return db.selectFrom("releases").selectAll().where("app_id", "=", appId).where("environment", "=", environment).where("state", "=", "draining").execute();
}

/** A drained release is stopped, and its deployment, live until now, says it was replaced. */
export async function markReplaced(db: Db, old: Release): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable("releases").set({ state: "stopped", stopped_at: new Date() }).where("id", "=", old.id).execute();
    await tx.updateTable("deployments").set({ state: "replaced" }).where("id", "=", old.deployment_id).where("state", "=", "live").execute();
  });
}
