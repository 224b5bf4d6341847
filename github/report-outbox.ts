import type { Logger } from "../core/logger.js";
import type { Db } from "../store/db.js";
import { addressOf, deploymentSubject, mergeReports, priorityOf, type Report } from "./report.js";
import { SerialQueue } from "./serial-queue.js";

/**
 * Stores reports in the outbox, in order, in one transaction. An unsent report of the same subject is
 * replaced by the merge of both; one a sender holds (in flight) is left alone, and the merged report
 * goes out after it. A check run's conclusion drops the deployment's unsent build progress.
 */
export async function recordReports(db: Db, reports: readonly Report[]): Promise<void> {
  if (reports.length === 0) return;
  const addressed = reports.map((report) => ({ report, ...addressOf(report) }));
  await db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom("github_reports")
      .select(["id", "subject", "report", "leased_until"])
      .where("subject", "in", [...new Set(addressed.map((a) => a.subject))])
      .orderBy("id", "desc")
      .forUpdate()
      .execute();
    // Each subject's state: its newest stored report, then each report of this batch merged into it.
    const state = new Map<string, Report>();
    const replaced: string[] = [];
    for (const row of rows) {
      if (state.has(row.subject)) continue;
      state.set(row.subject, row.report as Report);
      if (row.leased_until === null) replaced.push(row.id);
    }
    const stored = new Map<string, { chain: string; subject: string; report: Report }>();
    const progressDropped = new Set<string>();
    for (const { report, chain, subject } of addressed) {
      const merged = mergeReports(state.get(subject), report);
      state.set(subject, merged);
      stored.delete(subject); // stored in the order of each subject's last report
      stored.set(subject, { chain, subject, report: merged });
      // A concluded check run says more than any build progress still waiting to be shown on it.
      if (report.kind === "check" && report.update.conclusion) {
        const progress = deploymentSubject(report.deploymentId, "progress");
        progressDropped.add(progress);
        stored.delete(progress);
      }
    }
    if (replaced.length) await trx.deleteFrom("github_reports").where("id", "in", replaced).execute();
    if (progressDropped.size) await trx.deleteFrom("github_reports").where("subject", "in", [...progressDropped]).where("leased_until", "is", null).execute();
    const values = [...stored.values()].map(({ chain, subject, report }) => ({ chain, subject, report: JSON.stringify(report), installation: report.repo.installationId, priority: priorityOf(report) }));
    if (values.length) await trx.insertInto("github_reports").values(values).execute();
  });
}

/** Reports written to Postgres in one transaction at most. */
const MAX_BATCH = 100;

/**
 * The reporters' side of the outbox. `add` returns at once, so reporting never holds up a build or a
 * release; reports reach Postgres in the order they were added.
 */
export class ReportOutbox {
  readonly #writes: SerialQueue;
  /** Added and not yet written: in a burst, those added while one transaction runs go in the next. */
  readonly #pending: Report[] = [];
  #writing = false;

  constructor(
    private readonly db: Db,
    log: Logger,
    private readonly onAdded: () => void = () => {},
  ) {
    this.#writes = new SerialQueue(log);
  }

  add(report: Report): void {
    this.#pending.push(report);
    if (this.#writing) return;
    this.#writing = true;
    // One line for all, not one per chain: the outbox holds reports in the order berth made them, so a
    // commit's newest check run (the one GitHub shows) is created last, as berth decided.
    this.#writes.run("outbox", "recording reports", async () => {
      // A batch that fails is logged (SerialQueue) and not retried, as a single report was before.
      let failed: unknown;
      while (this.#pending.length > 0) {
        try {
          await recordReports(this.db, this.#pending.splice(0, MAX_BATCH));
          this.onAdded();
        } catch (err) {
          failed ??= err;
        }
      }
      this.#writing = false;
      if (failed !== undefined) throw failed;
    });
  }

  /** Resolves when every report added so far is in Postgres. */
  flushed(): Promise<void> {
    return this.#writes.drain();
  }
}
