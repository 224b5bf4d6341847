import type { Db, PathRoute, Release } from "../store/db.js";
import { getEnvironment } from "../store/environment-store.js";

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
