import type { Logger } from "../core/logger.js";
import { repoRef, type GitHubReporter } from "../github/github-reporter.js";
import type { Db } from "../store/db.js";

/** Apps asked about in one reconciler pass: the GitHub reads stay few however many apps wait. */
const PER_PASS = 20;

/**
 * Asks GitHub whether repositories berth does not know the visibility of are private (apps from before
 * protected previews, or recorded from an event without the field). Until it knows, an app's previews
 * count as private and need a login; a push or pull request tells it too. Returns how many it learnt.
 */
export async function learnVisibility(db: Db, github: Pick<GitHubReporter, "repository">, log: Logger): Promise<number> {
  const unknown = await db.selectFrom("apps").selectAll().where("private", "is", null).where("archived_at", "is", null).orderBy("id").limit(PER_PASS).execute();
  let learnt = 0;
  for (const app of unknown) {
    const facts = await github.repository(repoRef(app)).catch((err: unknown) => void log.warn({ err, app: app.name }, "could not ask GitHub whether a repository is private"));
    if (typeof facts?.private !== "boolean") continue;
    await db.updateTable("apps").set({ private: facts.private }).where("id", "=", app.id).where("private", "is", null).execute();
    learnt++;
  }
  return learnt;
}
