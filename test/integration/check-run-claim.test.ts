import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitCheckRunId, claimCheckRun } from "../../github/check-run-claim.js";
import { createDb, type App, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { DeploymentReporter } from "../../github/deployment-reporter.js";
import type { CheckRunUpdate, GitHubReporter } from "../../github/github-reporter.js";
import { createLogger } from "../../core/logger.js";
import { Sensitive } from "../../core/sensitive.js";
import { ReportOutbox } from "../../github/report-outbox.js";
import { ReportSender } from "../../github/report-sender.js";
import { recordDeployment, upsertApp } from "../../store/queries.js";
import { freshDatabase } from "../support/services.js";

/** A GitHub whose check-run creation takes a while, as it does behind Probot's write pacing. */
class SlowGitHub implements GitHubReporter {
  created: CheckRunUpdate[] = [];
  updated: { id: string; update: CheckRunUpdate }[] = [];
  async createCheckRun(_repo: unknown, _sha: string, update: CheckRunUpdate): Promise<string> {
    await new Promise((r) => setTimeout(r, 300));
    this.created.push(update);
    return String(1000 + this.created.length);
  }
  async updateCheckRun(_repo: unknown, id: string, update: CheckRunUpdate): Promise<void> {
    this.updated.push({ id, update });
  }
  async createDeployment(): Promise<string> {
    return "77";
  }
  async createDeploymentStatus(): Promise<void> {}
  async installationToken(): Promise<Sensitive> {
    return new Sensitive("t");
  }
  async findComment(): Promise<string | undefined> {
    return undefined;
  }
  async createComment(): Promise<string> {
    return "1";
  }
  async updateComment(): Promise<void> {}
  async removeLabel(): Promise<void> {}
  async permission(): Promise<string> {
    return "write";
  }
  async openPullNumbers(): Promise<Set<number>> {
    return new Set();
  }
  async repository(): Promise<undefined> {
    return undefined;
  }
}

describe("one check run per deployment across processes (Postgres)", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let app: App;
  let n = 0;
  const log = createLogger("silent");
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const deployment = async () =>
    (await recordDeployment(db, app.id, { environment: "production", sha: "ab".repeat(20), ref: "refs/heads/main", cloneUrl: "x", deliveryId: `claim-${++n}` }))!;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url));
    await migrate(db);
    app = await upsertApp(db, { name: "claims", repoFullName: "o/claims", repoId: "7", installationId: "1", defaultBranch: "main" });
  });

  afterAll(async () => {
    await db.destroy();
    await drop();
  });

  it("creates it once when a sender's lease runs out mid-create and another sender takes over, which updates it", async () => {
    const github = new SlowGitHub();
    const outbox = new ReportOutbox(db, log);
    const reporter = new DeploymentReporter(outbox, "http://berth", () => "k", (a, e) => `http://${a}-${e}`);
    const server = new ReportSender(db, github, log);
    const builder = new ReportSender(db, github, log);
    const d = await deployment();
    reporter.queued(app, d);
    await outbox.flushed();
    const serverSending = server.sendOne(); // creating takes 300 ms, longer than its lease
    await sleep(50);
    reporter.started(app, d); // not merged into the queued report: that one is in flight
    await outbox.flushed();
    await sleep(100);
    // Its lease runs out mid-create: a process frozen past its lease renews nothing.
    await db.updateTable("github_reports").set({ leased_until: 0 }).where("leased_by", "is not", null).execute();
    await builder.sendReady();
    await serverSending;
    expect(github.created).toHaveLength(1);
    expect(github.updated.map((u) => [u.id, u.update.status])).toContainEqual(["1001", "in_progress"]);
    expect((await db.selectFrom("deployments").select("check_run_id").where("id", "=", d.id).executeTakeFirstOrThrow()).check_run_id).toBe("1001");
  });

  it("keeps a report it is still sending past its lease: renewed, so no other sender takes it and sends it twice", async () => {
    const github = new SlowGitHub();
    const outbox = new ReportOutbox(db, log);
    const reporter = new DeploymentReporter(outbox, "http://berth", () => "k", (a, e) => `http://${a}-${e}`);
    const slow = new ReportSender(db, github, log, { leaseMs: 90 }); // renewed every 30 ms; creating takes 300
    const other = new ReportSender(db, github, log, { leaseMs: 90 });
    reporter.queued(app, await deployment());
    await outbox.flushed();
    const sending = slow.sendOne();
    await sleep(200);
    expect(await other.sendReady()).toBe(0);
    await sending;
    expect(github.created).toHaveLength(1);
    expect(await db.selectFrom("github_reports").select("id").execute()).toEqual([]);
  });

  it("takes over a claim whose creator died before creating, instead of waiting forever", async () => {
    const d = await deployment();
    expect(await claimCheckRun(db, d.id)).toBe(true); // a process claims, then dies
    expect(await claimCheckRun(db, d.id)).toBe(false);
    expect(await awaitCheckRunId(db, d.id, 300, 50)).toBe("claimed"); // the waiter now creates it
  });

  it("hands a waiter the id the creator stored", async () => {
    const d = await deployment();
    await claimCheckRun(db, d.id);
    setTimeout(() => void db.updateTable("deployments").set({ check_run_id: "4242" }).where("id", "=", d.id).execute(), 100);
    expect(await awaitCheckRunId(db, d.id, 5000, 20)).toBe("4242");
  });
});
