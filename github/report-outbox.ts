import type { Logger } from "../core/logger.js";
import type { Db } from "../store/db.js";
import { addressOf, deploymentSubject, mergeReports, priorityOf, type Report } from "./report.js";
import { SerialQueue } from "./serial-queue.js";

/**
 * Stores a report in the outbox. An unsent report of the same subject is replaced by the merge of
 * both; one a sender holds (in flight) is left alone, and the merged report goes out after it. A
 * check run's conclusion drops the deployment's unsent build progress.
 */
export async function recordReport(db: Db, report: Report): Promise<void> {
  const { chain, subject } = addressOf(report);
  await db.transaction().execute(async (trx) => {
    const older = await trx
      .selectFrom("github_reports")
      .select(["id", "report", "leased_until"])
      .where("subject", "=", subject)
      .orderBy("id", "desc")
      .limit(1)
      .forUpdate()
      .executeTakeFirst();
    if (older && older.leased_until === null) await trx.deleteFrom("github_reports").where("id", "=", older.id).execute();
    const merged = mergeReports(older?.report as Report | undefined, report);
    const row = { chain, subject, report: JSON.stringify(merged), installation: merged.repo.installationId, priority: priorityOf(merged) };
    await trx.insertInto("github_reports").values(row).execute();
    // A concluded check run says more than any build progress still waiting to be shown on it.
    if (report.kind === "check" && report.update.conclusion) {
      await trx.deleteFrom("github_reports").where("subject", "=", deploymentSubject(report.deploymentId, "progress")).where("leased_until", "is", null).execute();
    }
  });
}

/**
 * The reporters' side of the outbox. `add` returns at once, so reporting never holds up a build or a
 * release; reports reach Postgres in the order they were added.
 */
export class ReportOutbox {
  readonly #writes: SerialQueue;

  constructor(
    private readonly db: Db,
    log: Logger,
    private readonly onAdded: () => void = () => {},
  ) {
    this.#writes = new SerialQueue(log);
  }

  add(report: Report): void {
    // One line for all, not one per chain: the outbox holds reports in the order berth made them, so a
    // commit's newest check run (the one GitHub shows) is created last, as berth decided.
    this.#writes.run("outbox", `recording ${addressOf(report).subject}`, async () => {
      await recordReport(this.db, report);
      this.onAdded();
    });
  }

  /** Resolves when every report added so far is in Postgres. */
  flushed(): Promise<void> {
    return this.#writes.drain();
  }
}
