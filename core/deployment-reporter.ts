import type { App, Deployment } from "./db.js";
import type { GitHubReporter, RepoRef } from "./github-reporter.js";
import type { Logger } from "./logger.js";
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
 * statuses. Reporting is best effort once work has started: a GitHub outage is logged, it does not undo
 * a release that is serving.
 */
export class DeploymentReporter {
  constructor(
    private readonly github: GitHubReporter,
    private readonly publicUrl: string,
    private readonly log: Logger,
  ) {}

  detailsUrl(deploymentId: number): string {
    return `${this.publicUrl}/deployments/${deploymentId}`;
  }

  /** Creates the queued check run; returns its id. */
  async queued(app: App, d: Deployment): Promise<string> {
    return this.github.createCheckRun(repoRef(app), d.sha, {
      status: "queued",
      detailsUrl: this.detailsUrl(d.id),
      output: { title: `Queued ${d.sha.slice(0, 7)}`, summary: this.progressSummary(app, d, "Queued") },
    });
  }

  /** Marks the check run in progress (creating it if the webhook could not) and opens the GitHub Deployment. */
  async started(app: App, d: Deployment): Promise<{ checkRunId?: string; githubDeploymentId?: string }> {
    const repo = repoRef(app);
    const ids: { checkRunId?: string; githubDeploymentId?: string } = {};
    const update = {
      status: "in_progress" as const,
      detailsUrl: this.detailsUrl(d.id),
      output: { title: `Building ${d.sha.slice(0, 7)}`, summary: this.progressSummary(app, d, "Building") },
    };
    await this.attempt("check run in progress", async () => {
      if (d.check_run_id) await this.github.updateCheckRun(repo, d.check_run_id, update);
      else ids.checkRunId = await this.github.createCheckRun(repo, d.sha, update);
    });
    await this.attempt("deployment", async () => {
      const id = d.github_deployment_id ?? (await this.github.createDeployment(repo, {
        sha: d.sha,
        environment: d.environment,
        production: d.environment === "production",
        transient: d.environment !== "production",
        description: `berth ${d.environment} ${d.sha.slice(0, 7)}`,
      }));
      if (!d.github_deployment_id) ids.githubDeploymentId = id;
      await this.github.createDeploymentStatus(repo, id, { state: "in_progress", description: "Building", logUrl: this.detailsUrl(d.id) });
    });
    return ids;
  }

  async progress(app: App, d: Deployment, phase: string): Promise<void> {
    if (!d.check_run_id) return;
    await this.attempt("check run progress", () =>
      this.github.updateCheckRun(repoRef(app), d.check_run_id ?? "", {
        output: { title: `${phase} ${d.sha.slice(0, 7)}`, summary: this.progressSummary(app, d, phase) },
      }),
    );
  }

  async succeeded(app: App, d: Deployment, r: SuccessReport): Promise<void> {
    const repo = repoRef(app);
    const detailsUrl = this.detailsUrl(d.id);
    // The Deployment status goes first: the completed check run is the last word on a commit.
    if (d.github_deployment_id) {
      await this.attempt("deployment success", () =>
        this.github.createDeploymentStatus(repo, d.github_deployment_id ?? "", {
          state: "success",
          description: `Live: ${d.sha.slice(0, 7)}`,
          logUrl: detailsUrl,
          environmentUrl: r.url,
        }),
      );
    }
    if (d.check_run_id) {
      await this.attempt("check run success", () =>
        this.github.updateCheckRun(repo, d.check_run_id ?? "", {
          conclusion: "success",
          detailsUrl,
          output: {
            title: `Live at ${r.url}`,
            summary: render("check-run-success", { app: app.name, sha: d.sha, environment: d.environment, detailsUrl, ...r }),
          },
        }),
      );
    }
  }

  async failed(app: App, d: Deployment, r: FailureReport): Promise<void> {
    const repo = repoRef(app);
    const detailsUrl = this.detailsUrl(d.id);
    if (d.github_deployment_id) {
      await this.attempt("deployment failure", () =>
        this.github.createDeploymentStatus(repo, d.github_deployment_id ?? "", {
          state: "failure",
          description: r.title,
          logUrl: detailsUrl,
        }),
      );
    }
    await this.attempt("check run failure", async () => {
      const update = {
        conclusion: "failure" as const,
        detailsUrl,
        output: {
          title: r.title,
          summary: render("check-run-failure", { ...r, detailsUrl }),
          text: render("check-run-failure-text", r),
        },
      };
      if (d.check_run_id) await this.github.updateCheckRun(repo, d.check_run_id, update);
      else await this.github.createCheckRun(repo, d.sha, update);
    });
  }

  private progressSummary(app: App, d: Deployment, phase: string): string {
    return render("check-run-progress", { phase, app: app.name, sha: d.sha, environment: d.environment, detailsUrl: this.detailsUrl(d.id) });
  }

  private async attempt(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.log.warn({ err: e }, `GitHub report failed: ${what}`);
    }
  }
}
