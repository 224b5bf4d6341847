import { isRepoFullName } from "../github/source-url.js";
import { appFor, type WebhookDeps } from "./start-deployment.js";

interface RepositoryRef {
  id: number;
  full_name: string;
}

/** What berth reads of `installation` and `installation_repositories` deliveries. */
export interface InstallationEvent {
  action: string;
  installation?: { id: number } | null;
  /** `installation.created`: the repositories it was given. */
  repositories?: RepositoryRef[] | null;
  repositories_added?: RepositoryRef[] | null;
  repositories_removed?: RepositoryRef[] | null;
}

/** Repositories one delivery may add or remove: each added one costs a GitHub API call. */
export const MAX_INSTALLATION_REPOSITORIES = 1000;

/**
 * Keeps the app list in step with the App's installations: a repository the App is installed on is an
 * app at once (so secrets can be set before its first push), with its facts read from GitHub rather
 * than the payload; a repository removed from the installation, or an installation deleted, archives
 * its apps (nothing is deleted: a later install or push brings the app back as it was).
 */
export async function handleInstallation(deps: WebhookDeps, deliveryId: string, event: string, payload: InstallationEvent): Promise<string> {
  const installationId = payload.installation?.id;
  if (!Number.isSafeInteger(installationId)) return "ignored";
  if (event === "installation" && payload.action === "deleted") {
    const archived = await archive(deps, "installation_id", [String(installationId)]);
    return `archived ${archived}`;
  }
  const listed = (xs: RepositoryRef[] | null | undefined): RepositoryRef[] =>
    (Array.isArray(xs) ? xs : []).slice(0, MAX_INSTALLATION_REPOSITORIES).filter((r) => Number.isSafeInteger(r?.id) && isRepoFullName(r?.full_name));
  const added = listed(event === "installation" ? (payload.action === "created" ? payload.repositories : []) : payload.repositories_added);
  const removed = listed(event === "installation_repositories" ? payload.repositories_removed : []);
  let archived = 0;
  if (removed.length > 0) archived = await archive(deps, "repo_id", removed.map((r) => String(r.id)));
  let created = 0;
  for (const r of added) {
    const [owner = "", repo = ""] = r.full_name.split("/");
    const facts = await deps.github.repository({ owner, repo, installationId: String(installationId) });
    if (!facts || facts.id !== r.id) {
      deps.log.warn({ deliveryId, repository: r.full_name }, "installed repository not visible to the installation; its app waits for its first push");
      continue;
    }
    await appFor(deps.db, facts, installationId as number);
    created++;
  }
  if (created + archived > 0) deps.log.info({ deliveryId, event, action: payload.action, added: created, archived }, "apps follow the installation");
  return `${created} added, ${archived} archived`;
}

async function archive(deps: WebhookDeps, by: "installation_id" | "repo_id", values: string[]): Promise<number> {
  const result = await deps.db.updateTable("apps").set({ archived_at: new Date() }).where(by, "in", values).where("archived_at", "is", null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}
