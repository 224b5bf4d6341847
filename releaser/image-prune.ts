import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import type { DockerHost } from "./docker-host.js";

/**
 * Plans which of an app's images to remove: everything except the images of its last `keep` live
 * releases per environment (so a rollback needs no rebuild) and of anything still queued or running.
 */
export function planImagePrune(images: readonly string[], kept: ReadonlySet<string>): string[] {
  return images.filter((i) => !kept.has(i)).sort();
}

/** Whether one of the app's deployments is being built, or dispatched to be (its layer cache is the app's images). */
export async function buildRunning(db: Db, appId: number): Promise<boolean> {
  const row = await db
    .selectFrom("deployments")
    .select("id")
    .where("app_id", "=", appId)
    .where((eb) => eb.or([eb("state", "=", "building"), eb.and([eb("state", "=", "queued"), eb("dispatched_at", "is not", null)])]))
    .executeTakeFirst();
  return row !== undefined;
}

/** Removes an app's old images after a release; an image a container still uses is left alone. */
export async function pruneImages(deps: { db: Db; host: DockerHost; log: Logger }, appId: number, appName: string, keep: number): Promise<string[]> {
  // A running build's layer cache may be any of these images (or their parents): the next release prunes.
  if (await buildRunning(deps.db, appId)) return [];
  const recent = await deps.db
    .selectFrom("releases")
    .select(["image", "environment", "id"])
    .where("app_id", "=", appId)
    .where("live_at", "is not", null)
    .orderBy("id", "desc")
    .execute();
  const perEnv = new Map<string, number>();
  const kept = new Set<string>();
  for (const r of recent) {
    const n = perEnv.get(r.environment) ?? 0;
    if (n < keep) kept.add(r.image);
    perEnv.set(r.environment, n + 1);
  }
  const inFlight = await deps.db
    .selectFrom("deployments")
    .select("image")
    .where("app_id", "=", appId)
    .where("state", "=", "releasing")
    .where("image", "is not", null)
    .execute();
  for (const d of inFlight) kept.add(d.image ?? "");
  const removed: string[] = [];
  for (const ref of planImagePrune(await deps.host.listImages({ "berth.app": appName }), kept)) {
    if (await deps.host.removeImage(ref)) removed.push(ref);
  }
  if (removed.length) deps.log.info({ app: appName, removed }, "pruned old images");
  return removed;
}
