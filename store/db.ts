import { Kysely, PostgresDialect, type ColumnType, type Generated, type Selectable } from "kysely";
import type { PreviewGrantsTable, PreviewTokensTable } from "./preview-tables.js";
import type { Manifest } from "../manifest/manifest.js";
import type { ExecSessionsTable } from "./exec-sessions-table.js";
import type { ApiTokensTable, SessionsTable } from "./people-tables.js";
import pg from "pg";
import type { Sensitive } from "../core/sensitive.js";

export type DeploymentState = "queued" | "building" | "releasing" | "live" | "failed" | "cancelled" | "removed" | "waiting" | "skipped" | "replaced";
export type ReleaseState = "starting" | "live" | "draining" | "stopped" | "failed";

export interface AppsTable {
  id: Generated<number>;
  name: string;
  repo_full_name: string;
  repo_id: string;
  installation_id: string;
  default_branch: string;
  /** The name berth.yaml gives the app, for hostnames, URLs and the API; null: `name`. Docker names keep `name`. */
  public_name: string | null;
  /** Builds of this app that may run at once; null: BERTH_APP_BUILD_CONCURRENCY. */
  build_concurrency: number | null;
  /** When its repository left the installation; null while it is installed. */
  archived_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The repository is private (as GitHub last said): its previews need a GitHub login by default. */
  /** The repository is private; null until GitHub said (treated as private). */
  private: Generated<boolean | null>;
  created_at: Generated<Date>;
}

export interface DeploymentsTable {
  id: Generated<number>;
  app_id: number;
  environment: string;
  sha: string;
  ref: string;
  clone_url: string;
  delivery_id: string | null;
  state: Generated<DeploymentState>;
  error: string | null;
  image: string | null;
  url: string | null;
  check_run_id: string | null;
  github_deployment_id: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  built_at: Date | null;
  finished_at: Date | null;
  /** The normalized berth.yaml (manifest/manifest.ts), null for an app without one. */
  manifest: ColumnType<Manifest | null, string | null, string | null>;
  /** Contents of the repository files that services mount, by repository path. */
  files: ColumnType<Record<string, string> | null, string | null, string | null>;
  /** Paths the push changed; null when unknown (new branch, force push, too many commits). */
  changed_paths: ColumnType<string[] | null, string | null, string | null>;
  /** When the deployment was handed to the build queue; null while it waits for a slot of its app. */
  dispatched_at: Date | null;
  /** The earlier deployment whose image a rollback releases again; null for a push. */
  rollback_of: number | null;
  /** When each phase happened, ms since the epoch by phase name (store/phases.ts). */
  phases: ColumnType<Partial<Record<string, number>>, string | undefined, never>;
  /** The conclusion berth got onto the check run (success, failure, cancelled, skipped); null: none yet. */
  reported: string | null;
  /** The server whose engine built the image ("default": BERTH_DOCKER_HOST); null before 0017. */
  built_on: string | null;
  /** Who caused it: the GitHub login of the pusher or of the dashboard user; null when unknown. */
  actor: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface BuildLogsTable {
  id: Generated<string>;
  deployment_id: number;
  chunk: string;
  created_at: Generated<Date>;
}

export interface PathRoute {
  path: string;
  upstreams: string[];
}

export interface ReleasesTable {
  id: Generated<number>;
  deployment_id: number;
  app_id: number;
  environment: string;
  server: string;
  image: string;
  hostname: string;
  container_id: string | null;
  container_name: string;
  upstream: string | null;
  /** Path routes in order, each to its upstreams (`name:port`); null: everything to web. */
  routes: ColumnType<PathRoute[] | null, string | null, string | null>;
  state: Generated<ReleaseState>;
  created_at: Generated<Date>;
  live_at: Date | null;
  stopped_at: Date | null;
}

export type EnvironmentState = "open" | "closed" | "expired";

export interface EnvironmentsTable {
  id: Generated<number>;
  app_id: number;
  name: string;
  pr_number: number | null;
  state: Generated<EnvironmentState>;
  head_sha: string | null;
  head_repo: string | null;
  fork: Generated<boolean>;
  /** The head sha a writer approved for a fork's preview; only that commit is built. */
  approved_sha: string | null;
  /** The pull request was opened by a bot (user.type Bot): its code gets only preview secrets. */
  author_bot: Generated<boolean>;
  comment_id: string | null;
  last_push_at: Generated<Date>;
  closed_at: Date | null;
  torn_down_at: Date | null;
  created_at: Generated<Date>;
}

export interface SecretsTable {
  id: Generated<number>;
  app_id: number;
  name: string;
  /** production, or previews: the value previews get instead (the only one fork and bot previews get). */
  scope: Generated<SecretScope>;
  sealed: string;
  updated_at: Generated<Date>;
}

export type SecretScope = "production" | "previews";

/** A GitHub report not yet sent (migration 0012 says how the columns work). */
export interface GitHubReportsTable {
  id: Generated<string>;
  chain: string;
  subject: string;
  report: unknown;
  installation: string;
  priority: number;
  attempts: Generated<number>;
  not_before: ColumnType<string, number | undefined, number>;
  leased_by: string | null;
  leased_until: ColumnType<string | null, number | null | undefined, number | null>;
  created_at: Generated<Date>;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  delivery_id: string;
  event: string;
  topic: string | null;
  payload: string | null;
  received_at: Generated<Date>;
  processed_at: Date | null;
  outcome: string | null;
  attempts: Generated<number>;
  not_before: Date | null;
  error: string | null;
}

export type ServerState = "reachable" | "unreachable";

/** What berth last learned from a server's engine (docker info and version). */
export interface EngineFacts {
  version: string;
  apiVersion: string;
  os: string;
  cpus: number;
  memoryBytes: number;
  containers: number;
  running: number;
}

/** A registered droid server (migration 0015). */
export interface ServersTable {
  id: Generated<number>;
  name: string;
  docker_url: string;
  labels: ColumnType<Record<string, string>, string, string>;
  /** The client TLS bundle as JSON, sealed under BERTH_SECRET_KEY; null for ssh:// and unix://. */
  tls_sealed: string | null;
  state: ServerState;
  last_error: string | null;
  checked_at: Date | null;
  engine: ColumnType<EngineFacts | null, string | null, string | null>;
  created_at: Generated<Date>;
}

/** Where an app environment lives (migration 0017): a registered server's name, or "default" (local). */
export interface PlacementsTable {
  app_id: number;
  environment: string;
  server: string;
  placed_at: Generated<Date>;
}

/** A custom domain of an app's production (migration 0021). */
export interface DomainsTable {
  id: Generated<number>;
  app_id: number;
  name: string;
  redirect_to: string | null;
  source: Generated<"manifest" | "api">;
  verified: Generated<boolean>;
  /** Why it is not routed (the record to add), or null once verified. */
  problem: string | null;
  checked_at: Date | null;
  verified_at: Date | null;
  created_at: Generated<Date>;
}

/** Whether an app environment should be asleep, and when it last saw a request (migration 0020). */
export interface EnvironmentSleepTable {
  app_id: number;
  environment: string;
  sleeping_at: Date | null;
  last_request_at: Date | null;
  woken_at: Date | null;
  updated_at: Generated<Date>;
}

export interface Database {
  exec_sessions: ExecSessionsTable;
  preview_tokens: PreviewTokensTable;
  preview_grants: PreviewGrantsTable;
  api_tokens: ApiTokensTable;
  domains: DomainsTable;
  placements: PlacementsTable;
  environment_sleep: EnvironmentSleepTable;
  sessions: SessionsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  servers: ServersTable;
  github_reports: GitHubReportsTable;
  secrets: SecretsTable;
  environments: EnvironmentsTable;
  apps: AppsTable;
  deployments: DeploymentsTable;
  build_logs: BuildLogsTable;
  releases: ReleasesTable;
}

export type App = Selectable<AppsTable>;
export type Deployment = Selectable<DeploymentsTable>;
export type Release = Selectable<ReleasesTable>;
export type Environment = Selectable<EnvironmentsTable>;
export type Server = Selectable<ServersTable>;
export type Session = Selectable<SessionsTable>;
export type ApiToken = Selectable<ApiTokensTable>;
export type Db = Kysely<Database>;

/** The states in which a deployment still changes by itself; every other state is final for a viewer. */
export const RUNNING_STATES: ReadonlySet<DeploymentState> = new Set<DeploymentState>(["queued", "building", "releasing"]);

export interface PoolOptions {
  /**
   * How long a query waits for a free connection before it fails. Without it a route that holds or
   * floods the pool (a burst of page views, a stuck query) makes webhooks and workers wait forever;
   * with it they fail fast, and BullMQ retries the job and GitHub redelivers the webhook.
   */
  acquireTimeoutMs?: number;
  /**
   * Errors of idle connections (Postgres restarted, a connection killed). pg emits them on the pool,
   * where an 'error' event without a listener would crash berth; the pool replaces the client itself.
   */
  onError?: (err: Error) => void;
}

// bigint columns come back as strings; ids stay strings end to end (GitHub ids exceed 2^53 in theory).
/** Opens the pool. */
export function createDb(url: Sensitive, max = 20, opts: PoolOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url.unwrap(),
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: opts.acquireTimeoutMs ?? 5_000,
  });
  const onError = opts.onError ?? ((err: Error) => process.stderr.write(`berth: Postgres connection failed: ${err.message}\n`));
  pool.on("error", onError);
  // The pool listens only while a client is idle: one checked out when Postgres goes away (a lock held
  // across a wake, a transaction) would emit 'error' with no listener and end the process. Its query
  // still fails, and the pool drops the client when it is released.
  pool.on("connect", (client) => client.on("error", onError));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
