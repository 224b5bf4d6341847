import { Sensitive } from "../../../core/sensitive.js";
import type {
  CheckRunUpdate,
  DeploymentRequest,
  DeploymentStatusRequest,
  GitHubReporter,
  RepoRef,
  RepositoryFacts,
} from "../../../github/github-reporter.js";

/** A check run as GitHub would hold it after the calls so far, with every update kept. */
export interface RecordedCheckRun {
  id: string;
  repo: string;
  sha: string;
  status?: string;
  conclusion?: string;
  detailsUrl?: string;
  output?: CheckRunUpdate["output"];
  history: CheckRunUpdate[];
}

export interface RecordedDeployment {
  id: string;
  repo: string;
  request: DeploymentRequest;
  statuses: DeploymentStatusRequest[];
}

export interface RecordedComment {
  id: string;
  repo: string;
  issue: number;
  body: string;
  edits: number;
}

const full = (r: RepoRef): string => `${r.owner}/${r.repo}`;

/**
 * GitHub behind the GitHubReporter port, in memory: check runs, Deployments and their statuses,
 * issue comments and labels as GitHub would hold them after the calls berth made. Roles and open pull
 * requests are the test's to set.
 */
export class FakeGitHubReporter implements GitHubReporter {
  readonly checkRuns = new Map<string, RecordedCheckRun>();
  readonly deployments = new Map<string, RecordedDeployment>();
  readonly comments = new Map<string, RecordedComment>();
  /** Labels removed, as `owner/repo#N label`. */
  readonly removedLabels: string[] = [];
  /** Users asked about, in order. */
  readonly permissionLookups: string[] = [];
  /** Repository role per login; anybody else has none. */
  readonly roles = new Map<string, string>();
  /** Open pull request numbers per `owner/repo`; a repository not listed answers with an error, as an API outage would. */
  readonly openPulls = new Map<string, Set<number>>();
  readonly tokensIssued: string[] = [];
  /** Errors the next writes throw instead of writing, one each, as GitHub's error answers would. */
  readonly failures: unknown[] = [];
  /** Every write that reached this GitHub, in order: `createCheckRun <sha7>`, `status <state>`, … */
  readonly writes: string[] = [];
  #nextId = 1000;

  /** The check runs of one commit, oldest first. */
  checkRunsFor(sha: string): RecordedCheckRun[] {
    return [...this.checkRuns.values()].filter((c) => c.sha === sha);
  }

  /** The only check run of a commit; fails the test when there is none or more than one. */
  checkRunFor(sha: string): RecordedCheckRun {
    const runs = this.checkRunsFor(sha);
    if (runs.length !== 1) throw new Error(`expected one check run on ${sha.slice(0, 7)}, found ${runs.length}`);
    return runs[0]!;
  }

  /** The GitHub Deployments of one commit, oldest first. */
  deploymentsFor(sha: string): RecordedDeployment[] {
    return [...this.deployments.values()].filter((d) => d.request.sha === sha);
  }

  /** The comments on one issue or pull request. */
  commentsOn(issue: number): RecordedComment[] {
    return [...this.comments.values()].filter((c) => c.issue === issue);
  }

  async createCheckRun(repo: RepoRef, sha: string, update: CheckRunUpdate): Promise<string> {
    this.#write(`createCheckRun ${sha.slice(0, 7)}`);
    const id = String(this.#nextId++);
    this.checkRuns.set(id, { id, repo: full(repo), sha, history: [] });
    this.#apply(id, update);
    return id;
  }

  async updateCheckRun(repo: RepoRef, checkRunId: string, update: CheckRunUpdate): Promise<void> {
    this.#write(`updateCheckRun ${checkRunId}`);
    const run = this.checkRuns.get(checkRunId);
    if (!run || run.repo !== full(repo)) throw Object.assign(new Error(`Not Found: check run ${checkRunId}`), { status: 404 });
    this.#apply(checkRunId, update);
  }

  async createDeployment(repo: RepoRef, request: DeploymentRequest): Promise<string> {
    this.#write(`createDeployment ${request.sha.slice(0, 7)}`);
    const id = String(this.#nextId++);
    this.deployments.set(id, { id, repo: full(repo), request, statuses: [] });
    return id;
  }

  async createDeploymentStatus(repo: RepoRef, deploymentId: string, request: DeploymentStatusRequest): Promise<void> {
    this.#write(`status ${request.state}`);
    const d = this.deployments.get(deploymentId);
    if (!d || d.repo !== full(repo)) throw Object.assign(new Error(`Not Found: deployment ${deploymentId}`), { status: 404 });
    d.statuses.push(request);
  }

  async installationToken(installationId: string): Promise<Sensitive> {
    this.tokensIssued.push(installationId);
    return new Sensitive(`ghs_fake_${installationId}`);
  }

  async findComment(repo: RepoRef, issueNumber: number, marker: string): Promise<string | undefined> {
    return [...this.comments.values()].find((c) => c.repo === full(repo) && c.issue === issueNumber && c.body.includes(marker))?.id;
  }

  async createComment(repo: RepoRef, issueNumber: number, body: string): Promise<string> {
    const id = String(this.#nextId++);
    this.comments.set(id, { id, repo: full(repo), issue: issueNumber, body, edits: 0 });
    return id;
  }

  async updateComment(repo: RepoRef, commentId: string, body: string): Promise<void> {
    const c = this.comments.get(commentId);
    if (!c || c.repo !== full(repo)) throw Object.assign(new Error(`Not Found: comment ${commentId}`), { status: 404 });
    c.body = body;
    c.edits++;
  }

  async removeLabel(repo: RepoRef, issueNumber: number, label: string): Promise<void> {
    this.removedLabels.push(`${full(repo)}#${issueNumber} ${label}`);
  }

  async permission(repo: RepoRef, username: string): Promise<string> {
    this.permissionLookups.push(username);
    return this.roles.get(`${full(repo)} ${username}`) ?? this.roles.get(username) ?? "none";
  }

  async openPullNumbers(repo: RepoRef): Promise<Set<number>> {
    const open = this.openPulls.get(full(repo));
    if (!open) throw new Error(`GitHub is unavailable (no open pull requests scripted for ${full(repo)})`);
    return new Set(open);
  }

  /** Repositories the installation can see, by full name. */
  readonly repositories = new Map<string, RepositoryFacts>();

  async repository(repo: RepoRef): Promise<RepositoryFacts | undefined> {
    return this.repositories.get(full(repo));
  }

  #write(what: string): void {
    if (this.failures.length > 0) throw this.failures.shift();
    this.writes.push(what);
  }

  #apply(id: string, update: CheckRunUpdate): void {
    const run = this.checkRuns.get(id)!;
    run.history.push(update);
    if (update.status) run.status = update.status;
    if (update.conclusion) {
      run.conclusion = update.conclusion;
      run.status = "completed";
    }
    if (update.detailsUrl) run.detailsUrl = update.detailsUrl;
    if (update.output) run.output = update.output;
  }
}
