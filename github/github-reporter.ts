import type { App } from "../store/db.js";
import type { Probot } from "probot";
import { Sensitive } from "../core/sensitive.js";

/** Which repository a report goes to, and through which installation. */
export interface RepoRef {
  owner: string;
  repo: string;
  installationId: string;
}

/** The repository of an app, as the GitHub API addresses it. */
export function repoRef(app: App): RepoRef {
  const [owner = "", repo = ""] = app.repo_full_name.split("/");
  return { owner, repo, installationId: app.installation_id };
}

export type CheckConclusion = "success" | "failure" | "cancelled" | "skipped" | "neutral" | "action_required";

export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
  /** Line annotations (GitHub takes at most 50 per request). */
  annotations?: { path: string; start_line: number; end_line: number; annotation_level: "failure" | "warning" | "notice"; title?: string; message: string }[];
}

/** A button on a check run; GitHub sends `check_run.requested_action` with its identifier when pressed. */
export interface CheckRunAction {
  /** At most 20 characters. */
  label: string;
  /** At most 40 characters. */
  description: string;
  /** At most 20 characters. */
  identifier: string;
}

export interface CheckRunUpdate {
  status?: "queued" | "in_progress" | "completed";
  conclusion?: CheckConclusion;
  detailsUrl?: string;
  output?: CheckRunOutput;
  /** Buttons (GitHub shows at most three). */
  actions?: CheckRunAction[];
}

export interface DeploymentRequest {
  sha: string;
  environment: string;
  production: boolean;
  transient: boolean;
  description: string;
}

export type DeploymentStatusState = "queued" | "in_progress" | "success" | "failure" | "error" | "inactive";

export interface DeploymentStatusRequest {
  state: DeploymentStatusState;
  description: string;
  logUrl: string;
  environmentUrl?: string;
}

/** A repository as berth records it for an app. */
export interface RepositoryFacts {
  id: number;
  name: string;
  full_name: string;
  default_branch: string;
  owner: { login: string };
  /** Private repositories' previews need a GitHub login by default (absent: unknown, kept as it was). */
  private?: boolean;
}

/** The port through which berth reports to GitHub and borrows installation tokens. */
export interface GitHubReporter {
  createCheckRun(repo: RepoRef, sha: string, update: CheckRunUpdate): Promise<string>;
  updateCheckRun(repo: RepoRef, checkRunId: string, update: CheckRunUpdate): Promise<void>;
  createDeployment(repo: RepoRef, request: DeploymentRequest): Promise<string>;
  createDeploymentStatus(repo: RepoRef, deploymentId: string, request: DeploymentStatusRequest): Promise<void>;
  installationToken(installationId: string): Promise<Sensitive>;
  /** The id of the first issue comment whose body contains the marker. */
  findComment(repo: RepoRef, issueNumber: number, marker: string): Promise<string | undefined>;
  createComment(repo: RepoRef, issueNumber: number, body: string): Promise<string>;
  updateComment(repo: RepoRef, commentId: string, body: string): Promise<void>;
  /** Removes a label; a label that is not there is not an error. */
  removeLabel(repo: RepoRef, issueNumber: number, label: string): Promise<void>;
  /** A user's role on the repository: admin, maintain, write, triage, read or none. */
  permission(repo: RepoRef, username: string): Promise<string>;
  /** Numbers of the repository's open pull requests (one paginated listing, not a request per PR). */
  openPullNumbers(repo: RepoRef): Promise<Set<number>>;
  /** The repository's facts as GitHub has them now; undefined when the installation cannot see it. */
  repository(repo: RepoRef): Promise<RepositoryFacts | undefined>;
}

/** Roles that may approve running a fork's code on berth's servers. */
export const WRITE_ROLES = new Set(["admin", "maintain", "write"]);

export const CHECK_NAME = "berth";

// GitHub caps check-run output fields at 65535 characters.
const MAX_OUTPUT = 65_000;
const clip = (s: string): string => (s.length > MAX_OUTPUT ? "…" + s.slice(-MAX_OUTPUT) : s);

/** GitHubReporter methods for pull requests: the sticky comment, labels, permissions. */
class PullRequestCalls {
  constructor(protected readonly probot: Probot) {}

  async findComment(repo: RepoRef, issueNumber: number, marker: string): Promise<string | undefined> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    const iterator = octokit.paginate.iterator("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: repo.owner,
      repo: repo.repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    for await (const { data } of iterator) {
      const found = data.find((c) => c.body?.includes(marker));
      if (found) return String(found.id);
    }
    return undefined;
  }

  async createComment(repo: RepoRef, issueNumber: number, body: string): Promise<string> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: repo.owner,
      repo: repo.repo,
      issue_number: issueNumber,
      body,
    });
    return String(data.id);
  }

  async updateComment(repo: RepoRef, commentId: string, body: string): Promise<void> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
      owner: repo.owner,
      repo: repo.repo,
      comment_id: Number(commentId),
      body,
    });
  }

  async removeLabel(repo: RepoRef, issueNumber: number, label: string): Promise<void> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    try {
      await octokit.request("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {
        owner: repo.owner,
        repo: repo.repo,
        issue_number: issueNumber,
        name: label,
      });
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
    }
  }

  async permission(repo: RepoRef, username: string): Promise<string> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    try {
      const { data } = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
        owner: repo.owner,
        repo: repo.repo,
        username,
      });
      return data.role_name || data.permission;
    } catch (e) {
      if ((e as { status?: number }).status === 404) return "none";
      throw e;
    }
  }

  async openPullNumbers(repo: RepoRef): Promise<Set<number>> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    const open = new Set<number>();
    const iterator = octokit.paginate.iterator("GET /repos/{owner}/{repo}/pulls", { owner: repo.owner, repo: repo.repo, state: "open", per_page: 100 });
    for await (const { data } of iterator) for (const pr of data) open.add(pr.number);
    return open;
  }

  async repository(repo: RepoRef): Promise<RepositoryFacts | undefined> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    try {
      const { data } = await octokit.request("GET /repos/{owner}/{repo}", { owner: repo.owner, repo: repo.repo });
      return { id: Number(data.id), name: data.name, full_name: data.full_name, default_branch: data.default_branch, owner: { login: data.owner.login }, private: data.private === true };
    } catch (e) {
      if ((e as { status?: number }).status === 404) return undefined;
      throw e;
    }
  }
}

/** GitHubReporter over Probot's installation-authenticated Octokit (REST, with Probot's retry and throttling). */
export class OctokitReporter extends PullRequestCalls implements GitHubReporter {
  async createCheckRun(repo: RepoRef, sha: string, update: CheckRunUpdate): Promise<string> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: repo.owner,
      repo: repo.repo,
      name: CHECK_NAME,
      head_sha: sha,
      ...checkRunBody(update),
    });
    return String(data.id);
  }

  async updateCheckRun(repo: RepoRef, checkRunId: string, update: CheckRunUpdate): Promise<void> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    await octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
      owner: repo.owner,
      repo: repo.repo,
      check_run_id: Number(checkRunId),
      ...checkRunBody(update),
    });
  }

  async createDeployment(repo: RepoRef, request: DeploymentRequest): Promise<string> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/deployments", {
      owner: repo.owner,
      repo: repo.repo,
      ref: request.sha,
      environment: request.environment,
      production_environment: request.production,
      transient_environment: request.transient,
      description: request.description,
      auto_merge: false,
      // berth's own check is still running when it deploys; GitHub must not wait for it.
      required_contexts: [],
    });
    if (!("id" in data)) throw new Error(`GitHub did not create the deployment: ${JSON.stringify(data)}`);
    return String(data.id);
  }

  async createDeploymentStatus(repo: RepoRef, deploymentId: string, request: DeploymentStatusRequest): Promise<void> {
    const octokit = await this.probot.auth(Number(repo.installationId));
    await octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
      owner: repo.owner,
      repo: repo.repo,
      deployment_id: Number(deploymentId),
      state: request.state,
      description: request.description.slice(0, 140),
      log_url: request.logUrl,
      ...(request.environmentUrl ? { environment_url: request.environmentUrl } : {}),
    });
  }

  async installationToken(installationId: string): Promise<Sensitive> {
    const octokit = await this.probot.auth(Number(installationId));
    const auth = (await octokit.auth({ type: "installation" })) as { token: string };
    return new Sensitive(auth.token);
  }
}

function checkRunBody(update: CheckRunUpdate): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (update.status) body.status = update.status;
  if (update.conclusion) {
    body.conclusion = update.conclusion;
    body.status = "completed";
    body.completed_at = new Date().toISOString();
  }
  if (update.status === "in_progress") body.started_at = new Date().toISOString();
  if (update.detailsUrl) body.details_url = update.detailsUrl;
  if (update.actions) body.actions = update.actions.slice(0, 3);
  if (update.output) {
    body.output = {
      title: update.output.title.slice(0, 255),
      summary: clip(update.output.summary),
      ...(update.output.text ? { text: clip(update.output.text) } : {}),
      ...(update.output.annotations?.length ? { annotations: update.output.annotations.slice(0, 50) } : {}),
    };
  }
  return body;
}
