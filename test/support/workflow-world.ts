import { mkdtemp, rm } from "node:fs/promises";
import { sql } from "kysely";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { BuildDeps } from "../../builder/build-workflow.js";
import { CancelBus } from "../../jobs/cancel-bus.js";
import type { Queues, TeardownJob, DeploymentJob } from "../../jobs/queue.js";
import { createLogger } from "../../core/logger.js";
import { hostnameFor, publicUrl } from "../../core/names.js";
import { Sensitive } from "../../core/sensitive.js";
import { DeploymentReporter } from "../../github/deployment-reporter.js";
import { ReportOutbox } from "../../github/report-outbox.js";
import { ReportSender } from "../../github/report-sender.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import type { ReconcilerDeps } from "../../releaser/reconciler.js";
import { runRelease, type ReleaseDeps, type ReleaseSettings } from "../../releaser/release/workflow.js";
import type { WebhookDeps } from "../../server/start-deployment.js";
import { createDb, type App, type Db, type Deployment } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { readBuildLog, recordDeployment, upsertApp } from "../../store/queries.js";
import { FakeBuilder } from "./fakes/fake-builder.js";
import { FakeClock } from "./fakes/fake-clock.js";
import { FakeDockerHost } from "./fakes/fake-docker-host.js";
import { FakeGitHubReporter } from "./fakes/fake-github-reporter.js";
import { FakeQueue } from "./fakes/fake-queue.js";
import { FakeRedisPubSub } from "./fakes/fake-redis-pub-sub.js";
import { FakeSourceFetcher } from "./fakes/fake-source-fetcher.js";
import { freshDatabase } from "./services.js";

export const PROXY_IMAGE = "caddy:2-alpine";
export const DOMAIN = "berth.test";

export const SETTINGS: ReleaseSettings = {
  domain: DOMAIN,
  tls: false,
  ingressHttpPort: 80,
  ingressHttpsPort: 443,
  healthTimeoutMs: 30_000,
  drainMs: 5_000,
  keepImages: 3,
};

const drops: (() => Promise<void>)[] = [];

/**
 * A fresh, migrated Postgres database; close() ends its pool. The database itself is dropped by
 * dropDatabases() after the file: dropped (with force) right after the pool ended, a connection
 * still closing would be killed and its pool would report that as an unhandled error.
 */
export async function openDatabase(): Promise<{ db: Db; close: () => Promise<void> }> {
  const fresh = await freshDatabase();
  drops.push(fresh.drop);
  const db = createDb(new Sensitive(fresh.url), 5);
  await migrate(db);
  return { db, close: () => db.destroy() };
}

/** Drops every database openDatabase() made in this file; for afterAll. */
export async function dropDatabases(): Promise<void> {
  for (const drop of drops.splice(0)) await drop();
}

let repoIds = 0;

/**
 * The workflows' world for one test: a Postgres database of its own, the real DeploymentReporter,
 * IngressProxy and CancelBus, and fakes for every port (GitHub, Docker engine, source, builders,
 * clock, queues). Database and engine start empty together, so what one says runs the other holds.
 */
export class WorkflowWorld {
  readonly log = createLogger("silent");
  readonly github = new FakeGitHubReporter();
  readonly host = new FakeDockerHost("default");
  readonly proxy = new IngressProxy(this.host, { image: PROXY_IMAGE, httpPort: 80, httpsPort: 443 }, false, this.log);
  readonly clock = new FakeClock();
  readonly fetcher = new FakeSourceFetcher();
  readonly builder = new FakeBuilder(undefined, this.host);
  readonly redis = new FakeRedisPubSub();
  readonly cancels = new CancelBus(this.redis as unknown as Redis, this.log);
  readonly buildQueue = new FakeQueue<DeploymentJob>("build");
  readonly teardownQueue = new FakeQueue<TeardownJob>("teardown");
  readonly reporter: DeploymentReporter;
  readonly outbox: ReportOutbox;
  /** Sends the outbox when drain() says so: until then reports wait (and coalesce) as behind a slow GitHub. */
  readonly sender: ReportSender;
  workDir = "";

  /** A world on a fresh database; stop() drops it. */
  static async open(): Promise<WorkflowWorld> {
    const { db, close } = await openDatabase();
    const world = new WorkflowWorld(db, close);
    return world.start();
  }

  private constructor(
    readonly db: Db,
    private readonly closeDb: () => Promise<void>,
  ) {
    const urlFor = (app: string, environment: string): string => publicUrl(hostnameFor(app, environment, DOMAIN), false, 80, 443);
    this.outbox = new ReportOutbox(db, this.log);
    this.sender = new ReportSender(db, this.github, this.log, { clock: this.clock });
    this.reporter = new DeploymentReporter(this.outbox, "http://berth.test", (id) => `key${id}`, urlFor);
    this.host.addImage(PROXY_IMAGE);
  }

  private async start(): Promise<this> {
    this.workDir = await mkdtemp(join(tmpdir(), "berth-workflow-"));
    await this.cancels.listen(this.redis as unknown as Redis);
    return this;
  }

  async stop(): Promise<void> {
    await this.drain();
    if (this.workDir) await rm(this.workDir, { recursive: true, force: true });
    await this.closeDb();
  }

  buildDeps(over: Partial<BuildDeps> = {}): BuildDeps {
    return {
      db: this.db,
      github: this.github,
      reporter: this.reporter,
      fetcher: this.fetcher,
      githubWebUrl: "https://github.com",
      builders: { classic: this.builder, pack: this.builder },
      workDir: this.workDir,
      buildTimeoutMs: 15 * 60_000,
      packBuilder: "paketobuildpacks/builder-jammy-base",
      progressIntervalMs: 0,
      buildResources: {},
      log: this.log,
      clock: this.clock,
      ...over,
    };
  }

  releaseDeps(over: Partial<ReleaseDeps> = {}): ReleaseDeps {
    return { db: this.db, host: this.host, proxy: this.proxy, reporter: this.reporter, settings: SETTINGS, log: this.log, clock: this.clock, ...over };
  }

  reconcilerDeps(over: Partial<ReconcilerDeps> = {}): ReconcilerDeps {
    return {
      db: this.db,
      host: this.host,
      proxy: this.proxy,
      reporter: this.reporter,
      cancels: this.cancels,
      log: this.log,
      github: this.github,
      previewTtlMs: 24 * 3600_000,
      clock: this.clock,
      httpFailures: new Map(),
      ...over,
    };
  }

  webhookDeps(over: Partial<WebhookDeps> = {}): WebhookDeps {
    // The webhook code calls add and getJob only; the fake has exactly those.
    const queues = { build: this.buildQueue, teardown: this.teardownQueue } as unknown as Pick<Queues, "build" | "teardown">;
    return { db: this.db, queues, reporter: this.reporter, cancels: this.cancels, github: this.github, log: this.log, appBuildConcurrency: 2, ...over };
  }

  /** Sends every report added so far (and ready: retries not yet due wait) to the fake GitHub. */
  async drain(): Promise<void> {
    await this.outbox.flushed();
    await this.sender.sendReady();
  }

  /** A new app of its own repository. */
  async app(name: string): Promise<App> {
    const id = ++repoIds + 9000;
    return upsertApp(this.db, { name, repoFullName: `acme/${name}`, repoId: String(id), installationId: "42", defaultBranch: "main", private: false });
  }

  /** A recorded deployment of the app, queued unless told otherwise. */
  async deployment(app: App, input: { sha: string; environment?: string; changedPaths?: string[] | null; state?: "queued" | "waiting" }): Promise<Deployment> {
    const d = await recordDeployment(this.db, app.id, {
      environment: input.environment ?? "production",
      sha: input.sha,
      ref: "refs/heads/main",
      cloneUrl: `https://github.com/${app.repo_full_name}.git`,
      deliveryId: `delivery-${app.id}-${input.sha}-${Math.random()}`,
      changedPaths: input.changedPaths,
      state: input.state,
    });
    if (!d) throw new Error("deployment not recorded");
    return d;
  }

  async get(id: number): Promise<Deployment> {
    return this.db.selectFrom("deployments").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  }

  async appById(id: number): Promise<App> {
    return this.db.selectFrom("apps").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  }

  async releasesOf(appId: number, environment = "production") {
    return this.db.selectFrom("releases").selectAll().where("app_id", "=", appId).where("environment", "=", environment).orderBy("id").execute();
  }

  logOf(id: number): Promise<string> {
    return readBuildLog(this.db, id);
  }

  /** Releases d in a process that dies once its switch is committed, before it records the deployment live. */
  async diesAfterSwitch(d: Deployment): Promise<void> {
    await sql`create function berth_test_crash() returns trigger language plpgsql as $$
      begin
        if new.state = 'live' and new.id = ${sql.lit(d.id)} then raise exception 'berth was killed'; end if;
        return new;
      end $$`.execute(this.db);
    await sql`create trigger berth_test_crash before update on deployments for each row execute function berth_test_crash()`.execute(this.db);
    try {
      await runRelease(this.releaseDeps(), d.id).then(
        () => Promise.reject(new Error("the release did not die after its switch")),
        (e: Error) => (e.message.includes("berth was killed") ? undefined : Promise.reject(e)),
      );
    } finally {
      await sql`drop trigger berth_test_crash on deployments`.execute(this.db);
      await sql`drop function berth_test_crash()`.execute(this.db);
    }
  }
}

/** A sha made of one repeated hex digit pair, readable in failures. */
export const sha = (pair: string): string => pair.repeat(20);
