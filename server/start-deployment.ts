import type { CancelBus } from "../jobs/cancel-bus.js";
import type { App, Db, Deployment } from "../store/db.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import type { GitHubReporter } from "../github/github-reporter.js";
import { supersedeOlder } from "../store/environment-store.js";
import type { Logger } from "../core/logger.js";
import { appNameFromRepo } from "../core/names.js";
import { isRepoFullName, isSha } from "../github/source-url.js";
import { withNamesLock } from "../store/app-names.js";
import { dispatchBuilds } from "../jobs/build-dispatch.js";
import { systemClock, type Clock } from "../core/clock.js";
import type { Queues } from "../jobs/queue.js";
import { stopCancelled } from "./cancel-deployment.js";
import { findAppByName, recordDeployment, upsertApp, type DeploymentInput } from "../store/queries.js";

export interface WebhookDeps {
  db: Db;
  queues: Pick<Queues, "build" | "teardown">;
  reporter: DeploymentReporter;
  cancels: CancelBus;
  github: GitHubReporter;
  log: Logger;
  /** Builds of one app that may run at once unless the app sets its own limit. */
  appBuildConcurrency: number;
  /** Stamps the deployment's phases; the system clock unless a test passes its own. */
  clock?: Clock;
}

interface RepositoryFacts {
  id: number;
  name: string;
  full_name: string;
  default_branch: string;
  owner?: { login: string } | null;
  private?: boolean;
}

/**
 * The first webhook field that is not what GitHub sends, or undefined. Validated before anything is
 * recorded or run: a sha that could be a git option, a repository name that could shape a URL.
 */
export function invalidFields(f: { sha: unknown; fullName: unknown; number?: unknown }): string | undefined {
  if (!isSha(f.sha)) return "sha";
  if (!isRepoFullName(f.fullName)) return "repository.full_name";
  if (f.number !== undefined && !(Number.isSafeInteger(f.number) && (f.number as number) > 0)) return "number";
  return undefined;
}

/** The app of a repository, created on first sight; its facts (name, installation, branch) kept current. */
export async function appFor(db: Db, repo: RepositoryFacts, installationId: number): Promise<App> {
  const owner = repo.owner?.login ?? repo.full_name.split("/")[0] ?? "";
  const known = await db.selectFrom("apps").selectAll().where("repo_id", "=", String(repo.id)).executeTakeFirst();
  // A new app's name is chosen and taken under the names lock, so a rename cannot take it meanwhile.
  if (!known) return withNamesLock(db, (tx) => saveApp(tx, repo, owner, installationId));
  return saveApp(db, repo, owner, installationId);
}

async function saveApp(db: Db, repo: RepositoryFacts, owner: string, installationId: number): Promise<App> {
  return upsertApp(db, {
    name: await uniqueAppName(db, repo.name, owner, String(repo.id)),
    repoFullName: repo.full_name,
    repoId: String(repo.id),
    installationId: String(installationId),
    defaultBranch: repo.default_branch,
    ...(typeof repo.private === "boolean" ? { private: repo.private } : {}),
  });
}

/**
 * Records a deployment once per webhook delivery, supersedes the environment's older commits that are
 * still queued or building (their builds stop wherever they run), and queues the build (once its app
 * has a free build slot: jobs/build-dispatch.ts), or for a fork
 * awaiting approval reports why it waits. Returns undefined for a redelivery.
 */
export async function startDeployment(deps: WebhookDeps, app: App, input: DeploymentInput, waitingNote?: string): Promise<Deployment | undefined> {
  const receivedAt = input.receivedAt ?? (deps.clock ?? systemClock).now();
  const d = await recordDeployment(deps.db, app.id, { ...input, receivedAt, state: waitingNote ? "waiting" : "queued" });
  if (!d) {
    deps.log.info({ deliveryId: input.deliveryId }, "webhook redelivered; already recorded");
    // If the first delivery failed between recording and queueing, the redelivery completes it.
    await dispatchBuilds(deps, app.id);
    return undefined;
  }
  const short = d.sha.slice(0, 7);
  const superseded = await supersedeOlder(deps.db, app.id, d.environment, d.id);
  for (const old of superseded) {
    await stopCancelled(deps, app, old, `Superseded by ${short}`, `A newer commit (\`${short}\`) for \`${d.environment}\` arrived before this one was released, so its build was stopped.`);
    deps.log.info({ app: app.name, environment: d.environment, superseded: old.sha, by: d.sha }, "older commit superseded");
  }
  if (waitingNote) {
    deps.reporter.waiting(app, d, waitingNote);
    if (superseded.length > 0) await dispatchBuilds(deps, app.id); // a cancelled build's slot goes to the next in line
    return d;
  }
  deps.reporter.queued(app, d);
  const dispatched = await dispatchBuilds(deps, app.id);
  const waits = !dispatched.some((x) => x.id === d.id);
  deps.log.info({ app: app.name, environment: d.environment, sha: d.sha, deploymentId: d.id }, waits ? "queued; waits for a build slot of its app" : "queued for build");
  return d;
}

/**
 * The repository name made DNS-safe; prefixed with the owner when another app already holds it (as its
 * first or its public name), then numbered, so no two apps ever claim the same hostnames.
 */
async function uniqueAppName(db: Db, repoName: string, owner: string, repoId: string): Promise<string> {
  const base = appNameFromRepo(`${owner}-${repoName}`);
  const candidates = [appNameFromRepo(repoName), base, ...Array.from({ length: 20 }, (_, i) => appNameFromRepo(`${base.slice(0, 36)}-${i + 2}`))];
  for (const name of candidates) {
    const holder = await findAppByName(db, name);
    if (!holder || holder.repo_id === repoId) return name;
  }
  return appNameFromRepo(`${base.slice(0, 30)}-${repoId}`);
}
