import type { App, Deployment } from "../store/db.js";
import { repoRef, type CheckRunAction, type CheckRunOutput, type CheckRunUpdate, type DeploymentStatusRequest } from "./github-reporter.js";
import { renderPreviewComment, type PreviewState } from "./preview-comment.js";
import type { ReportOutbox } from "./report-outbox.js";
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
  /** Production's custom domains, a line each: routed, or the DNS record still to add. */
  domains?: string[];
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

/** The buttons berth puts on a finished check run; `check_run.requested_action` names the one pressed. */
export const CHECK_ACTIONS = {
  redeploy: { label: "Redeploy", description: "Build and release this commit again", identifier: "redeploy" },
  rollback: { label: "Roll back", description: "Put the previous release back live", identifier: "rollback" },
} as const satisfies Record<string, CheckRunAction>;

/**
 * Tells GitHub what happened to a deployment: the `berth` check run, the GitHub Deployment with its
 * statuses and, for previews, the sticky PR comment. Reports never hold up a build or a release: they
 * go to the outbox (Postgres) and a ReportSender sends them, each object's in order and the most
 * urgent first (github/report.ts), while GitHub's pacing of writes (about a second apart per
 * installation) takes its time. A newer state of the same object replaces one not yet sent, and a
 * restart loses nothing.
 */
export class DeploymentReporter {
  constructor(
    private readonly outbox: ReportOutbox,
    private readonly publicUrl: string,
    private readonly pageKey: (deploymentId: number) => string,
    private readonly urlFor: (app: string, environment: string) => string,
  ) {}

  /** Where an environment of the app is served (its public URL, with the port when not the default). */
  environmentUrl(app: App, environment: string): string {
    return this.urlFor(publicName(app), environment);
  }

  detailsUrl(deploymentId: number): string {
    return `${this.publicUrl}/deployments/${deploymentId}?key=${this.pageKey(deploymentId)}`;
  }

  /** Creates the queued check run (if no process created one already: it would say more). */
  queued(app: App, d: Deployment): void {
    this.check(app, d, "create", this.progressUpdate(app, d, "Queued", "queued"));
    this.comment(app, d, "queued");
  }

  /** The deployment's work began: "Building", or for a rollback "Rolling back to" (the sha follows). */
  started(app: App, d: Deployment, phase = "Building"): void {
    this.check(app, d, "upsert", this.progressUpdate(app, d, phase, "in_progress"));
    this.outbox.add({
      kind: "deployment",
      repo: repoRef(app),
      deploymentId: d.id,
      create: {
        sha: d.sha,
        environment: d.environment,
        production: d.environment === "production",
        transient: d.environment !== "production",
        description: `berth ${d.environment} ${d.sha.slice(0, 7)}`,
      },
      status: { state: "in_progress", description: `${phase} ${d.sha.slice(0, 7)}`, logUrl: this.detailsUrl(d.id) },
    });
    this.comment(app, d, "building");
  }

  /** A running build's step and log tail on its check run; only the newest unsent one goes out. */
  buildProgress(app: App, d: Deployment, p: ProgressSnapshot): void {
    const update = this.progressUpdate(app, d, "Building");
    const elapsed = `${Math.round(p.elapsedMs / 1000)}s`;
    this.outbox.add({
      kind: "progress",
      repo: repoRef(app),
      deploymentId: d.id,
      update: {
        output: {
          ...update.output!,
          title: `Building ${d.sha.slice(0, 7)} · ${p.step ? `${p.step} · ` : ""}${elapsed}`,
          text: render("check-run-failure-text", { detail: p.tail, detailTitle: `Build log (last lines, at ${elapsed})` }),
        },
      },
    });
  }

  progress(app: App, d: Deployment, phase: string): void {
    this.check(app, d, "update", { output: this.progressUpdate(app, d, phase).output });
    if (phase === "Releasing") this.comment(app, d, "releasing");
  }

  succeeded(app: App, d: Deployment, r: SuccessReport): void {
    const detailsUrl = this.detailsUrl(d.id);
    // The check run, then the Deployment's status: the outcome a developer watches, sent before anything
    // else and in this order (report.ts's priorityOf); the Deployment itself was created when the work began.
    this.check(app, d, "upsert", {
      conclusion: "success",
      detailsUrl,
      // Roll back is offered where there is a release before this one to go back to: production.
      actions: d.environment === "production" ? [CHECK_ACTIONS.redeploy, CHECK_ACTIONS.rollback] : [CHECK_ACTIONS.redeploy],
      output: {
        title: `Live at ${r.url}`,
        summary: render("check-run-success", { app: publicName(app), sha: d.sha, environment: d.environment, detailsUrl, ...r }),
      },
    });
    this.status(app, d.id, { state: "success", description: `Live: ${d.sha.slice(0, 7)}`, logUrl: detailsUrl, environmentUrl: r.url });
    this.comment(app, d, "live");
  }

  failed(app: App, d: Deployment, r: FailureReport): void {
    const detailsUrl = this.detailsUrl(d.id);
    this.check(app, d, "upsert", {
      conclusion: "failure",
      detailsUrl,
      actions: [CHECK_ACTIONS.redeploy],
      output: { title: r.title, summary: render("check-run-failure", { ...r, detailsUrl }), text: render("check-run-failure-text", r), annotations: r.annotations },
    });
    this.status(app, d.id, { state: "failure", description: r.title, logUrl: detailsUrl });
    this.comment(app, d, "failed", r.title);
  }

  /** The deployment was stopped before release: a newer commit superseded it, or its PR closed. */
  cancelled(app: App, d: Deployment, title: string, summary: string): void {
    this.check(app, d, "upsert", { conclusion: "cancelled", detailsUrl: this.detailsUrl(d.id), output: { title, summary } });
    this.status(app, d.id, { state: "inactive", description: title, logUrl: this.detailsUrl(d.id) });
  }

  /** Nothing to build for this commit (no watched path changed). */
  skipped(app: App, d: Deployment, title: string, summary: string): void {
    this.check(app, d, "upsert", { conclusion: "skipped", detailsUrl: this.detailsUrl(d.id), output: { title, summary } });
  }

  /** A fork's commit waits for a writer's approval; the check run says how to give it. */
  waiting(app: App, d: Deployment, note: string): void {
    this.check(app, d, "upsert", {
      conclusion: "neutral",
      detailsUrl: this.detailsUrl(d.id),
      output: { title: "Waiting for approval to build this fork", summary: note },
    });
    this.comment(app, d, "waiting", note);
  }

  /** A live preview fell asleep (its containers stopped) or woke again: the sticky comment says which. */
  sleeping(app: App, d: Deployment, asleep: boolean, note?: string): void {
    this.comment(app, d, asleep ? "sleeping" : "live", note);
  }

  /** A preview was torn down: its Deployment goes inactive and the comment says why. */
  removed(app: App, environment: string, latest: Deployment | undefined, state: "removed" | "expired", note: string): void {
    const pr = prNumberOf(environment);
    // Sent only if the GitHub Deployment exists by then: it may still be waiting in the outbox.
    if (latest) this.status(app, latest.id, { state: "inactive", description: note.slice(0, 140), logUrl: this.detailsUrl(latest.id) });
    if (pr !== undefined) {
      this.#comment(app, environment, pr, {
        state,
        sha: latest?.sha ?? "",
        url: this.urlFor(publicName(app), environment),
        logUrl: latest ? this.detailsUrl(latest.id) : this.publicUrl,
        note,
      });
    }
  }

  private check(app: App, d: Deployment, mode: "create" | "update" | "upsert", update: CheckRunUpdate): void {
    this.outbox.add({ kind: "check", repo: repoRef(app), deploymentId: d.id, sha: d.sha, mode, update });
  }

  /** A status of the deployment's GitHub Deployment, sent only once that exists. */
  private status(app: App, deploymentId: number, status: DeploymentStatusRequest): void {
    this.outbox.add({ kind: "deployment", repo: repoRef(app), deploymentId, status });
  }

  private comment(app: App, d: Deployment, state: PreviewState, note?: string): void {
    const pr = prNumberOf(d.environment);
    if (pr === undefined) return;
    this.#comment(app, d.environment, pr, { state, sha: d.sha, url: this.urlFor(publicName(app), d.environment), logUrl: this.detailsUrl(d.id), note });
  }

  #comment(app: App, environment: string, pr: number, view: Parameters<typeof renderPreviewComment>[0]): void {
    this.outbox.add({ kind: "comment", repo: repoRef(app), appId: app.id, environment, pr, body: renderPreviewComment(view) });
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
}
