import { mkdir } from "node:fs/promises";
import { ingressProbe } from "../releaser/served-probe.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import type { Worker } from "bullmq";
import { BuildkitBuilder } from "../builder/buildkit-builder.js";
import { DockerBuilder } from "../builder/docker-builder.js";
import { startBuildWorker } from "../builder/build-worker.js";
import { GitSourceFetcher } from "../builder/source-fetcher.js";
import { PackBuilder } from "../builder/pack-builder.js";
import { dispatchBuilds } from "../jobs/build-dispatch.js";
import { startRollback } from "../jobs/rollback.js";
import { CancelBus } from "../jobs/cancel-bus.js";
import { APP_FILE, loadConfig, type Config } from "../core/config.js";
import { createDb } from "../store/db.js";
import { migrate } from "../store/migrate.js";
import { DeploymentReporter } from "../github/deployment-reporter.js";
import { ConfigError } from "../core/errors.js";
import { createProbot } from "../github/probot-app.js";
import { appOwner } from "../github/app-owner.js";
import { OctokitReporter } from "../github/github-reporter.js";
import { createLogger, type Logger } from "../core/logger.js";
import { hostnameFor, publicUrl } from "../core/names.js";
import { pageKey } from "../core/page-key.js";
import { createQueues, createRedis } from "../jobs/queue.js";
import { SecretBox } from "../core/secret-box.js";
import { ReportOutbox } from "../github/report-outbox.js";
import { ReportSender } from "../github/report-sender.js";
import { RECORDED_EVENTS, webhookReceiver, type ReceivedDelivery } from "./webhook-receiver.js";
import { DockerodeHost } from "../releaser/dockerode-host.js";
import { dockerOptions } from "../releaser/docker-wire.js";
import { startFleet } from "../releaser/fleet-drivers.js";
import { systemResolver } from "../releaser/domain-check.js";
import { startReconciler } from "../releaser/reconciler.js";
import { startReleaseWorker } from "../releaser/release/worker.js";
import { startTeardownWorker } from "../releaser/teardown-worker.js";
import { createHttpServer, healthRoute, WEBHOOK_PATH } from "./http-server.js";
import { dbLogSource } from "./log-stream-source.js";
import { LogStreams } from "./log-streams.js";
import { dashboardRoutes, type DashboardDeps } from "./dashboard-routes.js";
import { handlePullRequest } from "./pull-request-handler.js";
import { handlePush } from "./push-handler.js";
import { handleCheckRun, type CheckRunEvent } from "./check-run-handler.js";
import { handleInstallation, type InstallationEvent } from "./installation-handler.js";
import { startIntake } from "./intake-wiring.js";
import { WebhookProcessor } from "./webhook-processor.js";
import { setupRoutes } from "./setup.js";
import { Metrics } from "../core/metrics.js";
import { metricsRoute, observeReleases, storeSnapshot } from "./metrics-route.js";
import type { WebhookDeps } from "./start-deployment.js";
import { onTheProxy, startSleep } from "./sleep-wiring.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { proxiedHostname } from "../core/names.js";
import { knownHostname } from "../store/queries.js";
import type { SleepControl } from "./sleep-api.js";
import { API_VERSION, apiRoute } from "./api-table.js";
import { execSockets } from "./exec-socket.js";
import { markProxied } from "./client-address.js";
import { startRedelivery } from "./redelivery-wiring.js";
import { previewGateFor } from "./preview-gate.js";
import { protectedHostnames } from "../store/preview-access-store.js";

/** Starts the roles this process runs (all three in single-node mode) and returns a stop function. */
export async function start(config: Config, log: Logger): Promise<() => Promise<void>> {
  // A connection Postgres dropped means it went away, if only for a moment: once it is back, GitHub is
  // asked for what berth could not take meanwhile (redelivery-wiring.ts).
  let markUnhealthy = (): void => {};
  const postgresFailed = (err: Error): void => {
    log.error({ err }, "idle Postgres connection failed");
    markUnhealthy();
  };
  const db = createDb(config.databaseUrl, 20, { onError: postgresFailed });
  const applied = await migrate(db);
  if (applied.length) log.info({ applied }, "migrations applied");
  // Logged once per outage, not on every reconnect attempt.
  let redisDown = false;
  const redisError = (err: Error): void => {
    if (!redisDown) log.error({ err }, "Redis connection failed; reconnecting");
    redisDown = true;
  };
  const newRedis = (): ReturnType<typeof createRedis> => {
    const client = createRedis(config.redisUrl, redisError);
    client.on("ready", () => (redisDown = false));
    return client;
  };
  const redis = newRedis();
  const queues = createQueues(redis);
  const cancels = new CancelBus(redis, log.child({ component: "cancel" }));
  const stops: (() => Promise<unknown>)[] = [];
  const metrics = new Metrics(() => storeSnapshot(db, queues));

  const probot = createProbot(config, log);
  const github = probot ? new OctokitReporter(probot) : undefined;
  const reportLog = log.child({ component: "reporter" });
  const sender = github ? new ReportSender(db, github, reportLog) : undefined;
  const outbox = new ReportOutbox(db, reportLog, () => sender?.wake());
  const urlFor = (app: string, environment: string): string =>
    publicUrl(hostnameFor(app, environment, config.domain), config.tls, config.ingressHttpPort, config.ingressHttpsPort);
  // Page links are keyed with the webhook secret (or the secrets key): both stay on the server.
  const pageSecret = config.github?.webhookSecret ?? config.secretKey;
  const keyFor = (id: number): string => (pageSecret ? pageKey(pageSecret, id) : "");
  const reporter = github ? new DeploymentReporter(outbox, config.publicUrl, keyFor, urlFor) : undefined;

  const secretBox = config.secretKey ? new SecretBox(config.secretKey) : undefined;
  const docker = new Docker(dockerOptions(config.dockerHost));
  const workers: Worker[] = [];
  let sleepControl: SleepControl | undefined;
  if (github && reporter && config.roles.includes("builder")) {
    const workDir = join(tmpdir(), "berth-builds");
    await mkdir(workDir, { recursive: true });
    const subscriber = newRedis();
    await cancels.listen(subscriber);
    stops.push(async () => subscriber.disconnect());
    const deps = { db, github, reporter, fetcher: new GitSourceFetcher(), builders: { classic: new DockerBuilder(docker), pack: new PackBuilder(), ...(config.dockerHost.startsWith("unix://") ? { buildkit: new BuildkitBuilder({ socketPath: new URL(config.dockerHost).pathname }) } : {}) }, secretBox, githubWebUrl: config.githubWebUrl, workDir, buildTimeoutMs: config.buildTimeoutMs, packBuilder: config.packBuilder, buildResources: config.buildResources, progressIntervalMs: config.progressIntervalMs, server: config.builderServer, log: log.child({ role: "builder" }) };
    const builds = startBuildWorker(deps, queues, cancels, newRedis(), {
      concurrency: config.buildConcurrency,
      appConcurrency: config.appBuildConcurrency,
      sweepMs: config.reconcileIntervalSeconds * 1000,
    });
    workers.push(builds.worker);
    stops.push(async () => builds.stop());
  }
  if (github && reporter && config.roles.includes("releaser")) {
    const releaseLog = log.child({ role: "releaser" });
    const fleet = startFleet(config, db, docker, secretBox, releaseLog);
    const { host, proxy } = fleet.local;
    const { domain, tls, ingressHttpPort, ingressHttpsPort, healthTimeoutMs, drainMs, keepImages, appLimits } = config;
    const settings = { domain, tls, ingressHttpPort, ingressHttpsPort, healthTimeoutMs, drainMs, keepImages, appLimits };
    // The proxy on berth's own host is every hostname's front door: "first served" is timed through it.
    const served = ingressProbe({ address: "127.0.0.1", tls: config.tls, httpPort: config.ingressHttpPort, httpsPort: config.ingressHttpsPort });
    const domains = { resolver: systemResolver(config.dnsServer), domain: config.domain, ingressAddresses: config.ingressAddresses, reserved: [proxiedHostname(config.publicUrl)].filter((h): h is string => Boolean(h)) };
    const releases = startReleaseWorker({ db, host, proxy, fleet, registry: config.registry, domains, reporter, settings, secretBox, log: releaseLog, served }, newRedis());
    observeReleases(releases, db, metrics);
    workers.push(releases);
    const teardownDeps = { db, host, proxy, fleet, reporter, cancels, log: releaseLog };
    workers.push(startTeardownWorker(teardownDeps, newRedis()));
    // Sleeping environments: the proxy's route overlay, the waker and the reconciler's sleep step.
    // berth's own hostname (BERTH_PUBLIC_URL's) is served through the proxy too, on the waker's listener.
    const selfHost = proxiedHostname(config.publicUrl);
    const self = selfHost
      ? {
          hostname: selfHost,
          handle: (req: IncomingMessage, res: ServerResponse) => (markProxied(req), server ? void server.emit("request", req, res) : void res.writeHead(503).end()),
          upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => (server ? void server.emit("upgrade", req, socket, head) : void socket.destroy()),
        }
      : undefined;
    // Protected environments: the front door asks the gate, on the waker's listener, before it answers.
    const gate = previewGateFor(config, db, releaseLog).handle;
    const sleep = startSleep({ db, docker, host, proxy, config, reporter, metrics, log: releaseLog, knows: (hostname) => knownHostname(db, hostname), self, gate });
    onTheProxy(proxy, sleep.address, selfHost, config.tlsInternal, () => protectedHostnames(db));
    sleepControl = sleep.sleeper;
    const reconciler = startReconciler({ ...teardownDeps, github, domains, previewTtlMs: config.previewTtlMs, sleeper: sleep.sleeper }, config.reconcileIntervalSeconds * 1000, (r) => metrics.reconcilerPass(r));
    stops.push(reconciler.stop, sleep.stop);
  }

  const streams = new LogStreams(dbLogSource(db), { onError: (err, deploymentId) => log.warn({ err, deploymentId }, "log stream poll failed") });
  let server: import("node:http").Server | undefined;
  let closeExec = (): void => {};
  let afterListen: (() => Promise<void>) | undefined;
  let webhookDeps: WebhookDeps | undefined;
  let receive: ((delivery: ReceivedDelivery) => Promise<void>) | undefined;
  let intake: ReturnType<typeof startIntake> | undefined;
  if (config.roles.includes("server")) {
    if (probot && reporter && github) {
      const deps = { db, queues, reporter, cancels, github, appBuildConcurrency: config.appBuildConcurrency, log: log.child({ component: "webhooks" }) };
      webhookDeps = deps;
      // GitHub's answer waits only for the delivery's record in Postgres; the work comes after it.
      const inbox = new WebhookProcessor(db, {
        push: (id, payload) => handlePush(deps, id, payload as Parameters<typeof handlePush>[2]),
        pull_request: (id, payload) => handlePullRequest(deps, id, payload as Parameters<typeof handlePullRequest>[2]),
        installation: (id, payload) => handleInstallation(deps, id, "installation", payload as InstallationEvent),
        installation_repositories: (id, payload) => handleInstallation(deps, id, "installation_repositories", payload as InstallationEvent),
        check_run: (id, payload) => handleCheckRun({ ...deps, rollback: (app) => startRollback({ db, queues, reporter }, app) }, id, payload as CheckRunEvent),
      }, log.child({ component: "inbox" }));
      // GitHub's answer waits for the delivery's line in berth's journal alone, never for Postgres.
      const started = startIntake({ config, metrics, onRecorded: () => inbox.wake(), onPostgresFailed: postgresFailed, onUnhealthy: () => markUnhealthy(), log: deps.log });
      intake = started;
      receive = started.receive;
      inbox.start();
      // Side by side: SIGTERM must end berth within 10 s, and what the intake leaves is in its journal.
      stops.push(() => Promise.all([inbox.stop(), started.stop()]));
    }
    if (probot) {
      const redelivery = startRedelivery(probot, db, redis, RECORDED_EVENTS, { journaled: (guid) => intake?.journal.holds(guid) ?? false, failing: () => intake?.failing() ?? false }, log.child({ component: "redelivery" }));
      markUnhealthy = redelivery.markUnhealthy;
      afterListen = redelivery.afterListen;
      stops.push(redelivery.stop);
    }
    const webhooks = config.github
      ? webhookReceiver({
          secret: config.github.webhookSecret.unwrap(),
          path: WEBHOOK_PATH,
          events: RECORDED_EVENTS,
          handle: async (delivery) => receive?.(delivery),
          onError: () => markUnhealthy(),
          log: log.child({ component: "webhooks" }),
        })
      : undefined;
    const rollback: DashboardDeps["rollback"] = reporter ? (app, target) => startRollback({ db, queues, reporter }, app, target) : undefined;
    const dashboard = dashboardRoutes(config, { db, log, docker, secretBox, pageSecret, streams, webhooks: webhookDeps, rollback, urlFor, sleep: sleepControl, adminAccounts: probot ? appOwner(probot, log) : undefined });
    const api = apiRoute({
      db,
      auth: dashboard.apiAuth,
      log: log.child({ component: "api" }),
      box: secretBox,
      actions: {
        redispatch: (appId) => dispatchBuilds({ db, queues, appBuildConcurrency: config.appBuildConcurrency }, appId),
        rollback: reporter ? (app, target) => startRollback({ db, queues, reporter }, app, target) : undefined,
      },
      webhooks: webhookDeps,
      sleep: sleepControl,
      previewSleepAfterMs: config.previewSleepAfterMs,
      urlFor,
      servers: { localDocker: config.dockerHost, localOptions: dockerOptions(config.dockerHost) },
      users: dashboard.users,
      version: API_VERSION,
      extra: dashboard.api,
    });
    server = createHttpServer(webhooks, [
      healthRoute(db, redis),
      metricsRoute(metrics, config.apiToken),
      api.route, // everything under /api/v1, from one table (server/api-table.ts)
      ...dashboard.pages,
      ...(probot ? [] : [setupRoutes({ publicUrl: config.publicUrl, githubWebUrl: config.githubWebUrl, githubApiUrl: config.githubApiUrl, envFile: join(config.dataDir, APP_FILE), log })]),
    ], log, metrics);
    const exec = execSockets({ db, log, instance: config.instance, publicUrl: config.publicUrl, apiAuth: dashboard.apiAuth, auth: dashboard.auth, engineFor: dashboard.engineFor });
    server.on("upgrade", exec.upgrade);
    closeExec = exec.close;
    await new Promise<void>((resolve) => server?.listen(config.port, config.host, resolve));
    log.info({ port: config.port, roles: config.roles }, `berth listening on ${config.host}:${config.port}`);
    afterListen?.().catch((err: unknown) => log.warn({ err }, "could not ask GitHub for deliveries missed while berth was down"));
  }
  // Every role sends: the outbox is shared, and a report waits for no particular process.
  sender?.start();
  log.info({ roles: config.roles }, "berth started");

  return async () => {
    // Open log streams would keep server.close() waiting for ever; ending them also waits out their
    // polls, which must not run into the pool destroyed below.
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    closeExec(); // open terminals would hold the listener open too
    // Unsent reports stay in the outbox for the next start: a backlog never holds up shutdown.
    const senderStopped = sender?.stop();
    await streams.close();
    await closed;
    for (const stop of stops) await stop();
    await Promise.all(workers.map((w) => w.close()));
    await senderStopped;
    await outbox.flushed();
    await queues.close();
    redis.disconnect();
    await db.destroy();
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  const stop = await start(config, log);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    stop().then(() => process.exit(0), (err) => {
      log.error({ err }, "unclean shutdown");
      process.exit(1);
    });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err) => {
    process.stderr.write(`berth failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
