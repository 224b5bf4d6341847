import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitCheckRunId, claimCheckRun } from "../../github/check-run-claim.js";
import { createDb, type App, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { DeploymentReporter } from "../../github/deployment-reporter.js";
import type { CheckRunUpdate, GitHubReporter } from "../../github/github-reporter.js";
import { createLogger } from "../../core/logger.js";
import { Sensitive } from "../../core/sensitive.js";
import { SerialQueue } from "../../github/serial-queue.js";
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
}

describe("one check run per deployment across processes (Postgres)", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let app: App;
  let n = 0;
  const log = createLogger("silent");
  const reporterOn = (github: GitHubReporter) => {
    const queue = new SerialQueue(log);
    return { queue, reporter: new DeploymentReporter(github, db, "http://berth", () => "k", (a, e) => `http://${a}-${e}`, queue) };
  };
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

  it("creates it once when the server's queued and a builder's started race, and the builder updates it", async () => {
    const github = new SlowGitHub();
    const server = reporterOn(github);
    const builder = reporterOn(github);
    const d = await deployment();
    server.reporter.queued(app, d);
    builder.reporter.started(app, d);
    await Promise.all([server.queue.drain(), builder.queue.drain()]);
    expect(github.created).toHaveLength(1);
    expect(github.updated.map((u) => [u.id, u.update.status])).toContainEqual(["1001", "in_progress"]);
    expect((await db.selectFrom("deployments").select("check_run_id").where("id", "=", d.id).executeTakeFirstOrThrow()).check_run_id).toBe("1001");
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
