import type { Clock } from "../core/clock.js";
import type { Sensitive } from "../core/sensitive.js";
import type { CheckRunUpdate, DeploymentRequest, DeploymentStatusRequest, GitHubReporter, RepoRef, RepositoryFacts } from "./github-reporter.js";

export interface PacerLimits {
  /** One write token comes back every this many ms (GitHub's guidance: about a second). */
  refillMs: number;
  /** Tokens an idle installation has saved up: the largest burst. */
  burst: number;
  /**
   * Tokens a write of each priority must leave (report.ts's priorityOf; the last entry holds for the
   * rest): a write of priority p waits while its installation has reserves[p] tokens or fewer.
   */
  reserves: readonly number[];
  /** The least time between two comments created in one installation (they notify people). */
  commentSpacingMs: number;
  /** The most writes in any hour per installation; none when absent. */
  perHour?: number;
}

const HOUR_MS = 3_600_000;

/**
 * GitHub's documented secondary limits allow 80 content-creating requests a minute per installation
 * and 500 an hour (and ask for writes one at a time, not concurrently). A fixed second between writes
 * honours the minute, but makes the twentieth of twenty deployments that went live together wait twenty
 * seconds for its outcome on GitHub. A bucket of 20 tokens refilled at one a second never writes more
 * than 20 + 60 = 80 in any minute, and lets a burst of outcomes out at once; the hour is counted write
 * by write, as a bucket would allow twice its size in an hour. The bucket is kept for outcomes in tiers:
 * the opening writes of a burst of pushes (and comments, progress) stop at 15 tokens, and creating
 * Deployments ahead of their outcome at 10, so the last 10 are for outcomes only (concluded check runs
 * and Deployments' final statuses, two writes a deployment): five deployments that go live together
 * are on GitHub at once, and a Deployment not created by then is created with its outcome.
 */
export const GITHUB_LIMITS: PacerLimits = { refillMs: 1_000, burst: 20, reserves: [0, 10, 15], commentSpacingMs: 3_000, perHour: 500 };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Which installations may write now. The report sender asks the pacer before it picks a report, so the
 * most urgent one waiting at that moment goes and the rest wait in Postgres, where newer states replace
 * them. Octokit's own write spacing is turned off (probot-app.ts): this is the one pace.
 */
export class WritePacer {
  readonly #buckets = new Map<string, Bucket>();
  readonly #lastComment = new Map<string, number>();
  /** Per installation, when each write of the last hour was made (oldest first); only with limits.perHour. */
  readonly #hour = new Map<string, number[]>();

  constructor(
    private readonly limits: PacerLimits,
    private readonly clock: Clock,
  ) {}

  /** Installations with no token left: nothing may be written there now. */
  resting(): string[] {
    return this.#below(1);
  }

  /** Installations where a write of this priority must wait: down to its reserve. */
  withheld(priority: number): string[] {
    return this.#below(this.#reserveOf(priority) + 1);
  }

  /** The priorities from which on a higher reserve holds (each tier's first priority), past the first. */
  tiers(): number[] {
    return this.limits.reserves.map((_, p) => p).filter((p) => p > 0 && this.#reserveOf(p) > this.#reserveOf(p - 1));
  }

  #reserveOf(priority: number): number {
    const r = this.limits.reserves;
    return r[Math.min(priority, r.length - 1)] ?? 0;
  }

  /** Installations that created a comment less than its spacing ago: no comment report yet. */
  restingFromComments(): string[] {
    const now = this.clock.now();
    for (const [installation, at] of this.#lastComment) if (now - at >= this.limits.commentSpacingMs) this.#lastComment.delete(installation);
    return [...this.#lastComment.keys()];
  }

  #below(tokens: number): string[] {
    const below: string[] = [];
    for (const installation of new Set([...this.#buckets.keys(), ...this.#hour.keys()])) if (this.#tokensOf(installation) < tokens) below.push(installation);
    return below;
  }

  /** The writes an installation may make now: its bucket's tokens, or fewer when the hour is nearly spent. */
  #tokensOf(installation: string): number {
    const bucket = this.#buckets.get(installation);
    let tokens = this.limits.burst;
    if (bucket) {
      tokens = this.#refill(bucket);
      if (tokens >= this.limits.burst) this.#buckets.delete(installation); // full again: forget it
    }
    return Math.min(tokens, this.#hourLeft(installation));
  }

  /** Writes left in the hour that ends now (Infinity without an hourly limit or a write this hour). */
  #hourLeft(installation: string): number {
    const log = this.#hour.get(installation);
    if (!log || this.limits.perHour === undefined) return Infinity;
    const since = this.clock.now() - HOUR_MS;
    while (log.length > 0 && log[0]! <= since) log.shift();
    if (log.length === 0) this.#hour.delete(installation);
    return this.limits.perHour - log.length;
  }

  /** Tokens the bucket holds now (saved as of now). */
  #refill(bucket: Bucket): number {
    const now = this.clock.now();
    // Rounded to a millionth of a token, so sums of small refills never fall just short of a whole one.
    bucket.tokens = Math.min(this.limits.burst, Math.round((bucket.tokens + (now - bucket.at) / this.limits.refillMs) * 1e6) / 1e6);
    bucket.at = now;
    return bucket.tokens;
  }

  /** Milliseconds until some installation that cannot write everything now gains a token; undefined when none waits. */
  nextTurnInMs(): number | undefined {
    let next: number | undefined;
    for (const installation of new Set([...this.#buckets.keys(), ...this.#hour.keys()])) {
      const turn = this.#turnOf(installation);
      if (turn !== undefined) next = Math.min(next ?? Infinity, turn);
    }
    return next;
  }

  /** Milliseconds until the installation may make one more write than now, by whichever limit holds it tighter. */
  #turnOf(installation: string): number | undefined {
    const bucket = this.#buckets.get(installation);
    const tokens = bucket ? this.#refill(bucket) : this.limits.burst;
    const hourLeft = this.#hourLeft(installation);
    const oldest = this.#hour.get(installation)?.[0];
    // The next whole token of the bucket; the moment the hour's oldest write turns an hour old.
    const minute = tokens < this.limits.burst ? Math.ceil((1 - (tokens % 1)) * this.limits.refillMs) : undefined;
    const hour = hourLeft < this.limits.burst && oldest !== undefined ? Math.max(1, oldest + HOUR_MS - this.clock.now()) : undefined;
    if (minute === undefined || hour === undefined) return minute ?? hour;
    const whole = Math.floor(tokens);
    return whole < hourLeft ? minute : whole > hourLeft ? hour : Math.max(minute, hour);
  }

  /** Takes every token of an installation GitHub rate-limited, so its next write comes after `ms`. */
  pause(installation: string, ms: number): void {
    this.#buckets.set(installation, { tokens: 1 - ms / this.limits.refillMs, at: this.clock.now() });
  }

  /** The reporter, with each write taking a token from its installation. */
  noting(github: GitHubReporter): GitHubReporter {
    return new NotedWrites(github, (repo, notifying) => {
      const bucket = this.#buckets.get(repo.installationId) ?? { tokens: this.limits.burst, at: this.clock.now() };
      this.#refill(bucket);
      bucket.tokens -= 1;
      this.#buckets.set(repo.installationId, bucket);
      if (this.limits.perHour !== undefined) {
        const log = this.#hour.get(repo.installationId) ?? [];
        log.push(this.clock.now());
        this.#hour.set(repo.installationId, log);
      }
      if (notifying) this.#lastComment.set(repo.installationId, this.clock.now());
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
