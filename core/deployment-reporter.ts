import type { App, Db, Deployment } from "./db.js";
import type { GitHubReporter, RepoRef } from "./github-reporter.js";
import type { Logger } from "./logger.js";
import { setDeploymentGitHubIds } from "./store.js";
import { render } from "./templates.js";

export function repoRef(app: App): RepoRef {
  const [owner = "", repo = ""] = app.repo_full_name.split("/");
  return { owner, repo, installationId: app.installation_id };
}

export interface SuccessReport {
  url: string;
  image: string;
  buildSeconds: number;
  releaseSeconds: number;
}

export interface FailureReport {
  title: string;
  message: string;
  detail?: string;
  detailTitle?: string;
  previousLive: boolean;
  url?: string;
}

/**
 * Tells GitHub what happened to a deployment: the `berth` check run and the GitHub Deployment with its
 * statuses. Reports never hold up a build or a release: GitHub asks integrations to space mutating
 * requests about a second apart per installation (Probot's throttling does so), which would otherwise
 * add seconds to every deploy. Each deployment's reports go out in order on a chain of their own; ids
 * GitHub hands back are stored in Postgres as they arrive, and a GitHub outage is logged, not fatal.
 */
export class DeploymentReporter {
  readonly #chains = new Map<number, Promise<void>>();

  constructor(
    private readonly github: GitHubReporter,
    private readonly db: Db,
    private readonly publicUrl: string,
    private readonly log: Logger,
  ) {}

  detailsUrl(deploymentId: number): string {
    return `${this.publicUrl}/deployments/${deploymentId}`;
  }

  /** Creates the queued check run. */
  queued(app: App, d: Deployment): void {
    this.enqueue(d.id, "queued check run", async (ids) => {
      if (ids.check_run_id) return;
      const checkRunId = await this.github.createCheckRun(repoRef(app), d.sha, {
        status: "queued",
        detailsUrl: this.detailsUrl(d.id),
        output: { title: `Queued ${d.sha.slice(0, 7)}`, summary: this.progressSummary(app, d, "Queued") },
      });
      await setDeploymentGitHubIds(this.db, d.id, { checkRunId });
    });
  }

  /** Marks the check run in progress (creating it if the webhook could not) and opens the GitHub Deployment. */
  started(app: App, d: Deployment): void {
    const repo = repoRef(app);
    const update = {
      status: "in_progress" as const,
      detailsUrl: this.detailsUrl(d.id),
      output: { title: `Building ${d.sha.slice(0, 7)}`, summary: this.progressSummary(app, d, "Building") },
    };
    this.enqueue(d.id, "check run in progress", async (ids) => {
      if (ids.check_run_id) await this.github.updateCheckRun(repo, ids.check_run_id, update);
      else await setDeploymentGitHubIds(this.db, d.id, { checkRunId: await this.github.createCheckRun(repo, d.sha, update) });
    });
    this.enqueue(d.id, "deployment", async (ids) => {
      let id = ids.github_deployment_id;
      if (!id) {
        id = await this.github.createDeployment(repo, {
          sha: d.sha,
          environment: d.environment,
          production: d.environment === "production",
          transient: d.environment !== "production",
          description: `berth ${d.environment} ${d.sha.slice(0, 7)}`,
        });
        await setDeploymentGitHubIds(this.db, d.id, { githubDeploymentId: id });
      }
      await this.github.createDeploymentStatus(repo, id, { state: "in_progress", description: "Building", logUrl: this.detailsUrl(d.id) });
    });
  }

  progress(app: App, d: Deployment, phase: string): void {
    this.enqueue(d.id, "check run progress", async (ids) => {
      if (!ids.check_run_id) return;
      await this.github.updateCheckRun(repoRef(app), ids.check_run_id, {
        output: { title: `${phase} ${d.sha.slice(0, 7)}`, summary: this.progressSummary(app, d, phase) },
      });
    });
  }

  succeeded(app: App, d: Deployment, r: SuccessReport): void {
    const repo = repoRef(app);
    const detailsUrl = this.detailsUrl(d.id);
    // The Deployment status goes first: the completed check run is the last word on a commit.
    this.enqueue(d.id, "deployment success", async (ids) => {
      if (!ids.github_deployment_id) return;
      await this.github.createDeploymentStatus(repo, ids.github_deployment_id, {
        state: "success",
        description: `Live: ${d.sha.slice(0, 7)}`,
        logUrl: detailsUrl,
        environmentUrl: r.url,
      });
    });
    this.enqueue(d.id, "check run success", async (ids) => {
      if (!ids.check_run_id) return;
      await this.github.updateCheckRun(repo, ids.check_run_id, {
        conclusion: "success",
        detailsUrl,
        output: {
          title: `Live at ${r.url}`,
          summary: render("check-run-success", { app: app.name, sha: d.sha, environment: d.environment, detailsUrl, ...r }),
        },
      });
    });
  }

  failed(app: App, d: Deployment, r: FailureReport): void {
    const repo = repoRef(app);
    const detailsUrl = this.detailsUrl(d.id);
    this.enqueue(d.id, "deployment failure", async (ids) => {
      if (!ids.github_deployment_id) return;
      await this.github.createDeploymentStatus(repo, ids.github_deployment_id, { state: "failure", description: r.title, logUrl: detailsUrl });
    });
    this.enqueue(d.id, "check run failure", async (ids) => {
      const update = {
        conclusion: "failure" as const,
        detailsUrl,
        output: { title: r.title, summary: render("check-run-failure", { ...r, detailsUrl }), text: render("check-run-failure-text", r) },
      };
      if (ids.check_run_id) await this.github.updateCheckRun(repo, ids.check_run_id, update);
      else await this.github.createCheckRun(repo, d.sha, update);
    });
  }

  /** Resolves when every report queued so far has been sent (or has failed and been logged). */
  async drain(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  private progressSummary(app: App, d: Deployment, phase: string): string {
    return render("check-run-progress", { phase, app: app.name, sha: d.sha, environment: d.environment, detailsUrl: this.detailsUrl(d.id) });
  }

  /** Runs fn after the deployment's earlier reports, with the GitHub ids known at that moment. */
  private enqueue(deploymentId: number, what: string, fn: (ids: Pick<Deployment, "check_run_id" | "github_deployment_id">) => Promise<void>): void {
    const previous = this.#chains.get(deploymentId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const ids = await this.db
          .selectFrom("deployments")
          .select(["check_run_id", "github_deployment_id"])
          .where("id", "=", deploymentId)
          .executeTakeFirst();
        if (ids) await fn(ids);
      })
      .catch((err: unknown) => this.log.warn({ err, deploymentId }, `GitHub report failed: ${what}`))
      .finally(() => {
        if (this.#chains.get(deploymentId) === next) this.#chains.delete(deploymentId);
      });
    this.#chains.set(deploymentId, next);
  }
}
