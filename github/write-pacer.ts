import type { Clock } from "../core/clock.js";
import type { Sensitive } from "../core/sensitive.js";
import type { CheckRunUpdate, DeploymentRequest, DeploymentStatusRequest, GitHubReporter, RepoRef, RepositoryFacts } from "./github-reporter.js";

/**
 * GitHub asks integrations to space content-creating requests about a second apart per installation
 * (its secondary limit is 80 a minute). Octokit's throttling enforces that by holding requests in
 * memory in the order they came, so whatever was handed over first goes first. The report sender asks
 * the pacer instead which installations may write now and picks a report only then: the most urgent
 * one at the moment of the slot goes, and the rest wait in Postgres, where newer states replace them.
 * Octokit's throttling stays on behind it, and then never has to wait; it also spaces writes that
 * notify people (creating a comment) 3 s apart, which the pacer tracks too, so a comment held there
 * never keeps an outcome waiting.
 */
export class WritePacer {
  readonly #lastWrite = new Map<string, number>();
  readonly #lastNotifying = new Map<string, number>();

  constructor(
    private readonly spacingMs: number,
    private readonly clock: Clock,
    private readonly notifyingSpacingMs = spacingMs * 3,
  ) {}

  /** Installations that wrote less than the spacing ago: not their turn yet. */
  resting(): string[] {
    return this.#recent(this.#lastWrite, this.spacingMs);
  }

  /** Installations that created a comment less than its spacing ago: no comment report yet. */
  restingFromComments(): string[] {
    return this.#recent(this.#lastNotifying, this.notifyingSpacingMs);
  }

  #recent(last: Map<string, number>, spacingMs: number): string[] {
    const now = this.clock.now();
    for (const [installation, at] of last) if (now - at >= spacingMs) last.delete(installation);
    return [...last.keys()];
  }

  /** Milliseconds until the first resting installation may write again; undefined when none rests. */
  nextTurnInMs(): number | undefined {
    const now = this.clock.now();
    let next: number | undefined;
    for (const at of this.#lastWrite.values()) next = Math.min(next ?? Infinity, Math.max(0, at + this.spacingMs - now));
    return next;
  }

  /** The reporter, with the moment of each write noted against its installation. */
  noting(github: GitHubReporter): GitHubReporter {
    return new NotedWrites(github, (repo, notifying) => {
      this.#lastWrite.set(repo.installationId, this.clock.now());
      if (notifying) this.#lastNotifying.set(repo.installationId, this.clock.now());
    });
  }
}

/** A GitHubReporter that tells `wrote` before each write (reads are not paced), and whether it notifies people. */
class NotedWrites implements GitHubReporter {
  constructor(
    private readonly github: GitHubReporter,
    private readonly wrote: (repo: RepoRef, notifying?: boolean) => void,
  ) {}

  createCheckRun(repo: RepoRef, sha: string, update: CheckRunUpdate): Promise<string> {
    this.wrote(repo);
    return this.github.createCheckRun(repo, sha, update);
  }

  updateCheckRun(repo: RepoRef, checkRunId: string, update: CheckRunUpdate): Promise<void> {
    this.wrote(repo);
    return this.github.updateCheckRun(repo, checkRunId, update);
  }

  createDeployment(repo: RepoRef, request: DeploymentRequest): Promise<string> {
    this.wrote(repo);
    return this.github.createDeployment(repo, request);
  }

  createDeploymentStatus(repo: RepoRef, deploymentId: string, request: DeploymentStatusRequest): Promise<void> {
    this.wrote(repo);
    return this.github.createDeploymentStatus(repo, deploymentId, request);
  }

  createComment(repo: RepoRef, issueNumber: number, body: string): Promise<string> {
    this.wrote(repo, true);
    return this.github.createComment(repo, issueNumber, body);
  }

  updateComment(repo: RepoRef, commentId: string, body: string): Promise<void> {
    this.wrote(repo);
    return this.github.updateComment(repo, commentId, body);
  }

  removeLabel(repo: RepoRef, issueNumber: number, label: string): Promise<void> {
    this.wrote(repo);
    return this.github.removeLabel(repo, issueNumber, label);
  }

  installationToken(installationId: string): Promise<Sensitive> {
    return this.github.installationToken(installationId);
  }

  findComment(repo: RepoRef, issueNumber: number, marker: string): Promise<string | undefined> {
    return this.github.findComment(repo, issueNumber, marker);
  }

  permission(repo: RepoRef, username: string): Promise<string> {
    return this.github.permission(repo, username);
  }

  openPullNumbers(repo: RepoRef): Promise<Set<number>> {
    return this.github.openPullNumbers(repo);
  }

  repository(repo: RepoRef): Promise<RepositoryFacts | undefined> {
    return this.github.repository(repo);
  }
}
