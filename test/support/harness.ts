import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appPrivateKey, startBerth, type BerthProcess } from "./berth-process.js";
import { removeApp, removeInstance } from "./docker-cleanup.js";
import { FakeGitHub } from "./fake-github.js";
import { TestRepo } from "./git-repo.js";
import { freePort, freshDatabase, freshRedis, uniqueName } from "./services.js";
import { pullRequestPayload, pushPayload, type Delivery, type PullOptions, type RepoFacts } from "./webhooks.js";

export const WEBHOOK_SECRET = "e2e-webhook-secret";
export const ADMIN_TOKEN = "e2e-admin-token";

/** berth started with `node dist/server/main.js` against a fake GitHub serving one real repository, with its ingress on a free port. */
export interface Harness {
  github: FakeGitHub;
  repo: TestRepo;
  facts: RepoFacts;
  berth: BerthProcess;
  app: string;
  ingressPort: number;
  /** This berth's BERTH_INSTANCE, and the name of its proxy container. */
  instance: string;
  proxy: string;
  hookUrl: string;
  /** The environment berth runs with: a test starts more berth processes (other roles) with it. */
  env: Record<string, string>;
  /** berth's own database, for tests and benches that count what it recorded. */
  databaseUrl: string;
  /** The app's production hostname. */
  host: string;
  /** SIGKILL to berth and everything it started, as a power cut or the OOM killer would. */
  kill(): Promise<void>;
  /** Starts berth again with the same environment and port (after kill or stop). */
  relaunch(): Promise<void>;
  push(sha: string, before: string, opts?: { deliveryId?: string; ref?: string; deleted?: boolean; changed?: string[] }): Promise<Delivery>;
  /** Sends a pull_request delivery and keeps the fake's view of the PR (state, head, labels) in step. */
  pull(opts: PullOptions): Promise<Delivery>;
  /** Stops berth (SIGTERM) and starts it again with the same settings, database and Redis. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}, redisDb = Number(process.env.BERTH_TEST_REDIS_DB ?? 9)): Promise<Harness> {
  const gitRoot = mkdtempSync(join(tmpdir(), "berth-git-"));
  const github = new FakeGitHub(gitRoot);
  const app = uniqueName("hello-");
  // An installation of its own: its proxy and reconciler never touch a live berth or another test's.
  const instance = uniqueName("berth-e2e-");
  await github.start();
  const repo = new TestRepo(gitRoot, "octo-org", app);
  const facts: RepoFacts = { owner: "octo-org", name: app, id: 4242, cloneUrl: github.cloneUrl("octo-org", app), defaultBranch: "main", installationId: 77 };
  github.repositories.set(`octo-org/${app}`, { id: facts.id, defaultBranch: facts.defaultBranch });
  // A chaos test brings its own Postgres (DATABASE_URL) and Redis (REDIS_URL), to stop and wipe.
  const db = env.DATABASE_URL ? { url: env.DATABASE_URL, drop: async () => {} } : await freshDatabase();
  const ingressPort = await freePort();
  const port = await freePort();
  const berthEnv: Record<string, string> = {
      APP_ID: "12345",
      PRIVATE_KEY: appPrivateKey(),
      WEBHOOK_SECRET,
      GHE_HOST: github.host,
      GHE_PROTOCOL: "http",
      DATABASE_URL: db.url,
      REDIS_URL: env.REDIS_URL ?? (await freshRedis(redisDb)),
      BERTH_DOMAIN: "localhost",
      BERTH_INGRESS_HTTP_PORT: String(ingressPort),
      BERTH_INGRESS_HTTPS_PORT: String(await freePort()),
      BERTH_PROXY_IMAGE: "berth-standin/caddy:2",
      BERTH_INSTANCE: instance,
      BERTH_PUBLIC_URL: `http://127.0.0.1:${port}`,
      BERTH_HEALTH_TIMEOUT: "8",
      BERTH_DRAIN_SECONDS: "1",
      LOG_LEVEL: "info",
      BERTH_API_TOKEN: ADMIN_TOKEN,
      BERTH_SECRET_KEY: "5e".repeat(32),
      // "Log in with GitHub" against the fake's OAuth web flow.
      GITHUB_CLIENT_ID: github.people.oauthClient.id,
      GITHUB_CLIENT_SECRET: github.people.oauthClient.secret,
      ...env,
  };
  const berth = await startBerth(berthEnv, port);
  const hookUrl = `${berth.url}/api/github/webhooks`;
  github.hook = { url: hookUrl, secret: WEBHOOK_SECRET };
  const h: Harness = {
    github,
    repo,
    facts,
    berth,
    app,
    ingressPort,
    instance,
    proxy: `${instance}-proxy`,
    hookUrl,
    env: berthEnv,
    databaseUrl: db.url,
    host: `${app}.localhost`,
    // Through the fake GitHub, which keeps each delivery and berth's answer, as GitHub does.
    push: (sha, before, opts = {}) => github.sendHook("push", pushPayload(facts, before, sha, opts), opts.deliveryId),
    pull: (opts) => {
      github.pulls.set(opts.number, { state: opts.action === "closed" ? "closed" : "open", head: opts.head });
      const labels = github.labels.get(opts.number) ?? new Set<string>();
      if (opts.action === "labeled") labels.add(opts.label ?? "berth:preview");
      github.labels.set(opts.number, labels);
      return github.sendHook("pull_request", pullRequestPayload(facts, { ...opts, labels: [...labels] }));
    },
    kill: async () => {
      const child = h.berth.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-(child.pid ?? 0), "SIGKILL");
      await exited;
    },
    relaunch: async () => {
      h.berth = await startBerth(berthEnv, port);
    },
    restart: async () => {
      await h.berth.stop();
      h.berth = await startBerth(berthEnv, port);
    },
    stop: async () => {
      await h.berth.stop();
      await github.stop();
      await removeApp(app);
      await removeInstance(instance);
      await db.drop();
      repo.cleanup();
      rmSync(gitRoot, { recursive: true, force: true });
    },
  };
  return h;
}
