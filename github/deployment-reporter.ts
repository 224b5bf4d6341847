import { awaitCheckRunId, checkRunIdOf, claimCheckRun, dropClaim } from "./check-run-claim.js";
import type { App, Db, Deployment } from "../store/db.js";
import { repoRef, type CheckRunOutput, type CheckRunUpdate, type GitHubReporter, type RepoRef } from "./github-reporter.js";
import { PreviewComments, type PreviewState } from "./preview-comment.js";
import type { SerialQueue } from "./serial-queue.js";
import { setDeploymentGitHubIds } from "../store/queries.js";
import { prNumberOf, publicName } from "../core/names.js";
import { render } from "../core/templates.js";

/** What a running build's check run shows between phase changes. */
export interface ProgressSnapshot {
  /** The Dockerfile step, BuildKit step or buildpacks phase the log is at; absent before the first. */
  step?: string;
  /** The last lines of the log. */
  tail: string;
  elapsedMs: number;
}

export interface SuccessReport {
  url: string;
  image: string;
  buildSeconds: number;
  releaseSeconds: number;
}

export interface FailureReport {
  title: string;
  annotations?: CheckRunOutput["annotations"];
  message: string;
  detail?: string;
  detailTitle?: string;
  previousLive: boolean;
  url?: string;
}

type Ids = Pick<Deployment, "check_run_id" | "github_deployment_id">;

/**
 * Tells GitHub what happened to a deployment: the `berth` check run, the GitHub Deployment with its
 * statuses and, for previews, the sticky PR comment. Reports never hold up a build or a release:
 * GitHub asks integrations to space mutating requests about a second apart per installation (Probot's
 * throttling does so), which would otherwise add seconds to every deploy. Each deployment's reports go
 * out in order on a chain of their own; ids GitHub hands back are stored as they arrive; a GitHub
 * outage is logged, not fatal.
 */
export class DeploymentReporter {
  readonly #comments: PreviewComments;
  readonly #progress = new Map<number, ProgressSnapshot>();

  constructor(
    private readonly github: GitHubReporter,
    private readonly db: Db,
    private readonly publicUrl: string,
    private readonly pageKey: (deploymentId: number) => string,
    private readonly urlFor: (app: string, environment: string) => string,
    private readonly queue: SerialQueue,
  ) {
    this.#comments = new PreviewComments(github, db, queue);
  }

  detailsUrl(deploymentId: number): string {
    return `${this.publicUrl}/deployments/${deploymentId}?key=${this.pageKey(deploymentId)}`;
  }

  /** Creates the queued check run. */
  queued(app: App, d: Deployment): void {
    this.enqueue(d, "queued check run", async (ids) => {
      // Queued is the first state: if any process created the check run already, it says more.
      if (ids.check_run_id || !(await claimCheckRun(this.db, d.id))) return;
      await this.createCheckRun(repoRef(app), d, this.progressUpdate(app, d, "Queued", "queued"));
    });
    this.comment(app, d, "queued");
  }

  /** Marks the check run in progress (creating it if the webhook could not) and opens the GitHub Deployment. */
  /** The deployment's work began: "Building", or for a rollback "Rolling back to" (the sha follows). */
  started(app: App, d: Deployment, phase = "Building"): void {
    const repo = repoRef(app);
    this.enqueue(d, "check run in progress", (ids) => this.upsertCheckRun(repo, d, ids, this.progressUpdate(app, d, phase, "in_progress")));
    this.enqueue(d, "deployment", async (ids) => {
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
      await this.github.createDeploymentStatus(repo, id, { state: "in_progress", description: `${phase} ${d.sha.slice(0, 7)}`, logUrl: this.detailsUrl(d.id) });
    });
    this.comment(app, d, "building");
  }

  /**
   * A running build's step and log tail on its check run. Updates that pile up behind a slow GitHub
   * are coalesced: only the newest is sent, in order with the deployment's other reports.
   */
  buildProgress(app: App, d: Deployment, p: ProgressSnapshot): void {
    const waiting = this.#progress.has(d.id);
    this.#progress.set(d.id, p);
    if (waiting) return;
    this.queue.run(`d:${d.id}`, "build progress", async () => {
      const latest = this.#progress.get(d.id);
      this.#progress.delete(d.id); // first, so a failure below never holds back the next report
      // Held up behind GitHub's pacing, it must not overwrite what another process reported since
      // (released, failed, superseded): progress is only ever shown while the build runs.
      const ids = await this.db.selectFrom("deployments").select(["check_run_id", "state"]).where("id", "=", d.id).executeTakeFirst();
      const checkRunId = checkRunIdOf(ids?.check_run_id);
      if (!latest || !checkRunId || ids?.state !== "building") return;
      const update = this.progressUpdate(app, d, "Building");
      const elapsed = `${Math.round(latest.elapsedMs / 1000)}s`;
      await this.github.updateCheckRun(repoRef(app), checkRunId, {
        output: {
          ...update.output!,
          title: `Building ${d.sha.slice(0, 7)} · ${latest.step ? `${latest.step} · ` : ""}${elapsed}`,
          text: render("check-run-failure-text", { detail: latest.tail, detailTitle: `Build log (last lines, at ${elapsed})` }),
        },
      });
    });
  }

  progress(app: App, d: Deployment, phase: string): void {
    this.enqueue(d, "check run progress", async (ids) => {
      const checkRunId = checkRunIdOf(ids.check_run_id);
      if (checkRunId) await this.github.updateCheckRun(repoRef(app), checkRunId, { output: this.progressUpdate(app, d, phase).output });
    });
    if (phase === "Releasing") this.comment(app, d, "releasing");
  }

  succeeded(app: App, d: Deployment, r: SuccessReport): void {
    const repo = repoRef(app);
    const detailsUrl = this.detailsUrl(d.id);
    // The Deployment status goes first: the completed check run is the last word on a commit.
    this.enqueue(d, "deployment success", async (ids) => {
      if (!ids.github_deployment_id) return;
      const status = { state: "success" as const, description: `Live: ${d.sha.slice(0, 7)}`, logUrl: detailsUrl, environmentUrl: r.url };
      await this.github.createDeploymentStatus(repo, ids.github_deployment_id, status);
    });
    this.enqueue(d, "check run success", (ids) =>
      this.upsertCheckRun(repo, d, ids, {
        conclusion: "success",
        detailsUrl,
        output: {
          title: `Live at ${r.url}`,
          summary: render("check-run-success", { app: publicName(app), sha: d.sha, environment: d.environment, detailsUrl, ...r }),
        },
      }),
    );
    this.comment(app, d, "live");
  }

  failed(app: App, d: Deployment, r: FailureReport): void {
    const repo = repoRef(app);
    const detailsUrl = this.detailsUrl(d.id);
    this.enqueue(d, "deployment failure", async (ids) => {
      if (ids.github_deployment_id) {
        await this.github.createDeploymentStatus(repo, ids.github_deployment_id, { state: "failure", description: r.title, logUrl: detailsUrl });
      }
    });
    this.enqueue(d, "check run failure", (ids) =>
      this.upsertCheckRun(repo, d, ids, {
        conclusion: "failure",
        detailsUrl,
        output: { title: r.title, summary: render("check-run-failure", { ...r, detailsUrl }), text: render("check-run-failure-text", r), annotations: r.annotations },
      }),
    );
    this.comment(app, d, "failed", r.title);
  }

  /** The deployment was stopped before release: a newer commit superseded it, or its PR closed. */
  cancelled(app: App, d: Deployment, title: string, summary: string): void {
    const repo = repoRef(app);
    this.enqueue(d, "deployment cancelled", async (ids) => {
      if (ids.github_deployment_id) {
        await this.github.createDeploymentStatus(repo, ids.github_deployment_id, { state: "inactive", description: title, logUrl: this.detailsUrl(d.id) });
      }
    });
    this.enqueue(d, "check run cancelled", (ids) =>
      this.upsertCheckRun(repo, d, ids, { conclusion: "cancelled", detailsUrl: this.detailsUrl(d.id), output: { title, summary } }),
    );
  }

  /** Nothing to build for this commit (no watched path changed). */
  skipped(app: App, d: Deployment, title: string, summary: string): void {
    this.enqueue(d, "check run skipped", (ids) =>
      this.upsertCheckRun(repoRef(app), d, ids, { conclusion: "skipped", detailsUrl: this.detailsUrl(d.id), output: { title, summary } }),
    );
  }

  /** A fork's commit waits for a writer's approval; the check run says how to give it. */
  waiting(app: App, d: Deployment, note: string): void {
    this.enqueue(d, "check run waiting", (ids) =>
      this.upsertCheckRun(repoRef(app), d, ids, {
        conclusion: "neutral",
        detailsUrl: this.detailsUrl(d.id),
        output: { title: "Waiting for approval to build this fork", summary: note },
      }),
    );
    this.comment(app, d, "waiting", note);
  }

  /** A preview was torn down: its Deployment goes inactive and the comment says why. */
  removed(app: App, environment: string, latest: Deployment | undefined, state: "removed" | "expired", note: string): void {
    const pr = prNumberOf(environment);
    const repo = repoRef(app);
    if (latest?.github_deployment_id) {
      const id = latest.github_deployment_id;
      this.queue.run(`d:${latest.id}`, "deployment inactive", () =>
        this.github.createDeploymentStatus(repo, id, { state: "inactive", description: note.slice(0, 140), logUrl: this.detailsUrl(latest.id) }),
      );
    }
    if (pr !== undefined) {
      this.#comments.update(app, repo, environment, pr, {
        state,
        sha: latest?.sha ?? "",
        url: this.urlFor(publicName(app), environment),
        logUrl: latest ? this.detailsUrl(latest.id) : this.publicUrl,
        note,
      });
    }
  }

  private comment(app: App, d: Deployment, state: PreviewState, note?: string): void {
    const pr = prNumberOf(d.environment);
    if (pr === undefined) return;
    this.#comments.update(app, repoRef(app), d.environment, pr, {
      state,
      sha: d.sha,
      url: this.urlFor(publicName(app), d.environment),
      logUrl: this.detailsUrl(d.id),
      note,
    });
  }

  private progressUpdate(app: App, d: Deployment, phase: string, status?: "queued" | "in_progress"): CheckRunUpdate {
    return {
      ...(status ? { status } : {}),
      detailsUrl: this.detailsUrl(d.id),
      output: {
        title: `${phase} ${d.sha.slice(0, 7)}`,
        summary: render("check-run-progress", { phase, app: publicName(app), sha: d.sha, environment: d.environment, detailsUrl: this.detailsUrl(d.id) }),
      },
    };
  }

  /** Updates the deployment's check run, or creates it with this update when no process has yet. */
  private async upsertCheckRun(repo: RepoRef, d: Deployment, ids: Ids, update: CheckRunUpdate): Promise<void> {
    await this.sendCheckRun(repo, d, ids, update);
    // A final conclusion that reached GitHub: the sweeper (github/lost-reports.ts) need not send it again.
    if (update.conclusion) await this.db.updateTable("deployments").set({ reported: update.conclusion }).where("id", "=", d.id).execute();
  }

  private async sendCheckRun(repo: RepoRef, d: Deployment, ids: Ids, update: CheckRunUpdate): Promise<void> {
    let id = checkRunIdOf(ids.check_run_id);
    if (!id) {
      const claimed = (await claimCheckRun(this.db, d.id)) ? "claimed" : await awaitCheckRunId(this.db, d.id);
      if (claimed === "claimed") return this.createCheckRun(repo, d, update);
      id = claimed;
    }
    if (id) await this.github.updateCheckRun(repo, id, update);
  }

  private async createCheckRun(repo: RepoRef, d: Deployment, update: CheckRunUpdate): Promise<void> {
    try {
      await setDeploymentGitHubIds(this.db, d.id, { checkRunId: await this.github.createCheckRun(repo, d.sha, update) });
    } catch (e) {
      await dropClaim(this.db, d.id);
      throw e;
    }
  }

  /** Runs fn after the deployment's earlier reports, with the GitHub ids known at that moment. */
  private enqueue(d: Deployment, what: string, fn: (ids: Ids) => Promise<void>): void {
    this.queue.run(`d:${d.id}`, what, async () => {
      const ids = await this.db.selectFrom("deployments").select(["check_run_id", "github_deployment_id"]).where("id", "=", d.id).executeTakeFirst();
      if (ids) await fn(ids);
    });
  }
}
