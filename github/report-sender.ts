import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { systemClock, type Clock } from "../core/clock.js";
import { atMost, Nap } from "../core/nap.js";
import type { Logger } from "../core/logger.js";
import type { Db } from "../store/db.js";
import { dropClaim } from "./check-run-claim.js";
import type { GitHubReporter } from "./github-reporter.js";
import { deliverReport } from "./report-delivery.js";
import { retryDelayMs } from "./report-retry.js";
import { priorityOf, type Report } from "./report.js";
import { GITHUB_LIMITS, WritePacer, type PacerLimits } from "./write-pacer.js";

export interface SenderOptions {
  /** Chains sent side by side: one deployment's reports never wait for another's. */
  concurrency?: number;
  /** How often idle workers look for reports other processes (or retries) made ready. */
  pollMs?: number;
  /** How long a claimed report is this process's unless renewed (every third of it while sending); a process that died mid-send loses it after this. */
  leaseMs?: number;
  /** Attempts after which a report that keeps failing is dropped. */
  maxAttempts?: number;
  /** How fast each installation may write (GitHub's documented secondary limits by default). */
  limits?: PacerLimits;
  clock?: Clock;
}

/**
 * A report is held mid-send for as long as GitHub's pacing makes it wait, so a killed berth nearly always
 * leaves one claimed, and its chain (the rest of that deployment's reports, its outcome included) waits
 * for the lease to run out. A short lease renewed while sending ends that wait within seconds of the
 * kill, like BullMQ's job locks (jobs/queue.ts), instead of the minute a fixed 60 s lease took.
 */
const LEASE_MS = 6_000;

/**
 * After a paced claim found nothing, none for this long, however often reports are added meanwhile.
 * In a webhook burst every added report woke all the workers, and each ran the claim query (a scan of
 * the outbox) while the installation had no token: the top query by CPU in Postgres, for nothing.
 */
const QUIET_MS = 50;

interface Claimed {
  id: string;
  installation: string;
  subject: string;
  report: Report;
  attempts: number;
}

/**
 * Sends the outbox to GitHub. Each worker claims a ready report whose chain has nothing older (`for
 * update skip locked` plus a lease), so processes share the outbox and a chain stays in order; one
 * report per installation at a time, and only while that installation has write tokens (WritePacer),
 * so the most urgent report at that moment goes: a concluded check run first.
 * Sent reports are deleted; rate-limited and failed ones wait their turn again; hopeless ones are dropped.
 */
export class ReportSender {
  readonly #owner = randomUUID();
  readonly #clock: Clock;
  readonly #opts: Required<Omit<SenderOptions, "clock" | "limits">>;
  readonly #pacer: WritePacer;
  readonly #github: GitHubReporter;
  #workers: Promise<void>[] = [];
  #stopping = new AbortController();
  readonly #nap: Nap;
  /** Installations this process is sending to: one report each at a time (see #claim). */
  readonly #busy = new Set<string>();
  #claiming: Promise<unknown> = Promise.resolve();
  /** No paced claim before this moment (ms): the last one found nothing ready (QUIET_MS). */
  #quietUntil = 0;

  constructor(
    private readonly db: Db,
    private readonly github: GitHubReporter,
    private readonly log: Logger,
    opts: SenderOptions = {},
  ) {
    this.#clock = opts.clock ?? systemClock;
    this.#nap = new Nap(this.#clock);
    this.#opts = { concurrency: opts.concurrency ?? 8, pollMs: opts.pollMs ?? 500, leaseMs: opts.leaseMs ?? LEASE_MS, maxAttempts: opts.maxAttempts ?? 15 };
    this.#pacer = new WritePacer(opts.limits ?? GITHUB_LIMITS, this.#clock);
    this.#github = this.#pacer.noting(github);
  }

  start(): void {
    for (let i = 0; i < this.#opts.concurrency; i++) this.#workers.push(this.#work());
  }

  /** A report was added: idle workers look now instead of at their next poll. */
  wake(): void {
    this.#nap.wake();
  }

  /**
   * Stops claiming and gives in-flight reports graceMs to finish; whatever is left stays in Postgres,
   * released for the next process, so shutdown takes no longer than that whatever the backlog.
   */
  async stop(graceMs = 2_000): Promise<void> {
    this.#stopping.abort();
    this.wake();
    await atMost(Promise.all(this.#workers), graceMs);
    // A check run being created when we stop keeps its claim, which the next process would wait out
    // (awaitCheckRunId) before creating it itself: give it back now.
    const held = await this.db.selectFrom("github_reports").select("report").where("leased_by", "=", this.#owner).execute();
    for (const { report } of held as { report: Report }[]) if (report.kind === "check") await dropClaim(this.db, report.deploymentId);
    await this.db.updateTable("github_reports").set({ leased_by: null, leased_until: null }).where("leased_by", "=", this.#owner).execute();
  }

  /** Sends ready reports one by one until none is ready (tests: the write pace is not kept; retries not yet due are left). */
  async sendReady(): Promise<number> {
    let sent = 0;
    while (await this.sendOne()) sent++;
    return sent;
  }

  /** Claims and sends one ready report, whether or not its installation has tokens (tests); false when none is ready. */
  sendOne(): Promise<boolean> {
    return this.#sendOne(false);
  }

  async #sendOne(paced: boolean): Promise<boolean> {
    // Claims one at a time in this process, so two workers never pick the same installation.
    const claiming = this.#claiming.then(() => (paced && this.#clock.now() < this.#quietUntil ? undefined : this.#claim(paced)));
    this.#claiming = claiming.catch(() => undefined);
    const claimed = await claiming;
    if (!claimed) return false;
    const renew = setInterval(() => void this.#renew(claimed.id), this.#opts.leaseMs / 3);
    try {
      const rest = await deliverReport(this.db, this.#github, claimed.report);
      if (rest) await this.#later(claimed, rest);
      else await this.db.deleteFrom("github_reports").where("id", "=", claimed.id).where("leased_by", "=", this.#owner).execute();
    } catch (err) {
      await this.#failed(claimed, err);
    } finally {
      clearInterval(renew);
      this.#busy.delete(claimed.installation);
    }
    return true;
  }

  async #work(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      let busy = false;
      try {
        busy = await this.#sendOne(true);
      } catch (err) {
        if (!this.#stopping.signal.aborted) this.log.warn({ err }, "GitHub report outbox unavailable");
      }
      // Nothing to claim now: look again at the next poll, or when an installation gains a token, or
      // (woken while the last claim's quiet lasts) once it ends, so that no wake is lost.
      const quiet = this.#quietUntil - this.#clock.now();
      if (!busy) await this.#nap.take(quiet > 0 ? quiet : Math.min(this.#opts.pollMs, this.#pacer.nextTurnInMs() ?? Infinity));
    }
  }

  async #claim(paced: boolean): Promise<Claimed | undefined> {
    const now = this.#clock.now();
    // One report per installation in flight (GitHub asks for writes one at a time), none without a
    // token, and only outcomes from the reserve. Reports held here rather than in an HTTP client's
    // memory coalesce, and the most urgent one goes next.
    const waiting = paced ? [...this.#busy, ...this.#pacer.resting()] : [...this.#busy];
    const tiers = paced ? this.#pacer.tiers().map((p) => ({ from: p, withheld: this.#pacer.withheld(p) })) : [];
    const reserved = tiers.filter((t) => t.withheld.length > 0).map((t) => sql`and (r.priority < ${t.from} or r.installation <> all(${t.withheld}::text[]))`);
    const noComments = paced ? this.#pacer.restingFromComments() : [];
    const { rows } = await sql<Claimed>`
      update github_reports set leased_by = ${this.#owner}, leased_until = ${now + this.#opts.leaseMs}, attempts = attempts + 1
      where id = (
        select r.id from github_reports r
        where r.not_before <= ${now} and (r.leased_until is null or r.leased_until < ${now})
          and not exists (select 1 from github_reports o where o.chain = r.chain and o.id < r.id)
          and r.installation <> all(${waiting}::text[])
          ${reserved.length ? sql.join(reserved, sql` `) : sql``}
          and not (r.subject like 'comment:%' and r.installation = any(${noComments}::text[]))
        order by r.priority, r.id
        limit 1
        for update of r skip locked)
      returning id, installation, subject, report, attempts`.execute(this.db);
    if (rows[0]) this.#busy.add(rows[0].installation);
    else if (paced) this.#quietUntil = this.#clock.now() + QUIET_MS;
    return rows[0];
  }

  /**
   * A report that has more to send after this turn (a Deployment's status once it is created) waits for
   * a later one, unless a newer report of its subject (which carries it) is already waiting. It waits at
   * the priority of what is left: an in-progress status is no longer urgent once its Deployment exists,
   * and the outcome that will supersede it is.
   */
  async #later(c: Claimed, rest: Report): Promise<void> {
    const superseded = await this.db
      .deleteFrom("github_reports")
      .where("id", "=", c.id)
      .where(({ exists, selectFrom }) => exists(selectFrom("github_reports as n").select("n.id").where("n.subject", "=", c.subject).where("n.id", ">", c.id)))
      .executeTakeFirst();
    if (Number(superseded.numDeletedRows) > 0) return;
    await this.db
      .updateTable("github_reports")
      .set({ report: JSON.stringify(rest), priority: priorityOf(rest), leased_by: null, leased_until: null })
      .where("id", "=", c.id)
      .where("leased_by", "=", this.#owner)
      .execute();
  }

  /** Keeps a report this process is still sending its own; a failed renewal is left to the next one. */
  async #renew(id: string): Promise<void> {
    await this.db
      .updateTable("github_reports")
      .set({ leased_until: this.#clock.now() + this.#opts.leaseMs })
      .where("id", "=", id)
      .where("leased_by", "=", this.#owner)
      .execute()
      .catch((err: unknown) => this.log.warn({ err }, "could not renew the lease of a GitHub report"));
  }

  async #failed(c: Claimed, err: unknown): Promise<void> {
    const delay = c.attempts < this.#opts.maxAttempts ? retryDelayMs(err, c.attempts, this.#clock.now()) : undefined;
    // A rate limit holds for the whole installation: nothing else is written there until it lifts.
    const status = (err as { status?: number } | undefined)?.status;
    if ((status === 403 || status === 429) && delay !== undefined) this.#pacer.pause(c.installation, delay);
    const what = { err, subject: c.subject, kind: c.report.kind, attempts: c.attempts };
    // A newer report of the subject is queued behind this one and carries everything it would have done.
    const superseded = await this.db
      .deleteFrom("github_reports")
      .where("id", "=", c.id)
      .where(({ exists, selectFrom }) => exists(selectFrom("github_reports as n").select("n.id").where("n.subject", "=", c.subject).where("n.id", ">", c.id)))
      .executeTakeFirst();
    if (Number(superseded.numDeletedRows) > 0) return this.log.warn(what, "GitHub report failed; a newer one replaces it");
    if (delay === undefined) {
      this.log.warn(what, "GitHub report failed and is dropped");
      await this.db.deleteFrom("github_reports").where("id", "=", c.id).execute();
      return;
    }
    this.log.warn({ ...what, retryInMs: delay }, "GitHub report failed; retrying");
    await this.db
      .updateTable("github_reports")
      .set({ leased_by: null, leased_until: null, not_before: this.#clock.now() + delay })
      .where("id", "=", c.id)
      .where("leased_by", "=", this.#owner)
      .execute();
  }
}
