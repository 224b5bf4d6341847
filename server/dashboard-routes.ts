import Docker from "dockerode";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import type { SecretBox } from "../core/secret-box.js";
import type { Sensitive } from "../core/sensitive.js";
import { GitHubUserClient } from "../github/user-client.js";
import { publicUrl } from "../core/names.js";
import { engineOptions } from "../releaser/docker-wire.js";
import type { App, Db, Deployment } from "../store/db.js";
import { LOCAL_RELEASE_SERVER, findServer, openServerTls } from "../store/server-store.js";
import { AccessCache } from "./access-cache.js";
import { ApiAuth } from "./api-auth.js";
import type { AnyApiRoute } from "./api-router.js";
import { tokensPage } from "./tokens-page.js";
import { dashboardActions } from "./dashboard-actions.js";
import { DashboardAuth } from "./dashboard-auth.js";
import { dashboardPages } from "./dashboard-pages.js";
import type { LogStreams } from "./log-streams.js";
import { loginRoutes } from "./login-routes.js";
import { pageRoutes } from "./pages.js";
import { accessTokenRoutes } from "./access-token-api.js";
import { previewLoginRoutes } from "./preview-login.js";
import type { Route } from "./respond.js";
import { runtimeLogRoutes } from "./runtime-logs.js";
import { serversPage } from "./servers-page.js";
import { assetRoute, execWithoutUpgrade, terminalPage } from "./terminal-page.js";
import { appRuntime } from "./app-runtime.js";
import { environmentActions } from "./environment-actions.js";
import type { SleepControl } from "./sleep-api.js";
import { hostnameFor, PRODUCTION } from "../core/names.js";
import type { WebhookDeps } from "./start-deployment.js";

export interface DashboardDeps {
  db: Db;
  log: Logger;
  /** The engine of the built-in server (BERTH_DOCKER_HOST). */
  docker: Docker;
  secretBox: SecretBox | undefined;
  /** Keys deployment pages for links from check runs. */
  pageSecret: Sensitive | undefined;
  streams: LogStreams;
  /** Absent while no GitHub App is configured. */
  webhooks: WebhookDeps | undefined;
  rollback: ((app: App, deploymentId: number) => Promise<Deployment>) | undefined;
  urlFor: (app: string, environment: string) => string;
  /** Sleep and wake; absent in a process without the releaser role. */
  sleep?: SleepControl;
  /** The account that owns berth's GitHub App: its admins manage servers. */
  adminAccounts?: () => Promise<string[]>;
}

/**
 * The dashboard's routes: `api` joins the /api/v1 table (runtime logs), `pages` are the rest (sign-in,
 * pages, buttons, servers, tokens, deployment pages); `apiAuth` authorizes API calls with the same
 * permission lookups and cache as the pages.
 */
export function dashboardRoutes(config: Config, deps: DashboardDeps): { api: AnyApiRoute[]; pages: Route[]; apiAuth: ApiAuth; users: GitHubUserClient | undefined; auth: DashboardAuth; engineFor: (server: string) => Promise<Docker | undefined> } {
  const { db, secretBox } = deps;
  const users = config.oauth
    ? new GitHubUserClient({ webUrl: config.githubWebUrl, apiUrl: config.githubApiUrl, clientId: config.oauth.clientId, clientSecret: config.oauth.clientSecret })
    : undefined;
  const auth = new DashboardAuth(db, { users, cache: new AccessCache(), secure: config.publicUrl.startsWith("https:"), ttlMs: config.sessionTtlMs, log: deps.log.child({ component: "dashboard" }), adminAccounts: deps.adminAccounts });
  const engineFor = async (name: string): Promise<Docker | undefined> => {
    if (name === LOCAL_RELEASE_SERVER) return deps.docker;
    const row = await findServer(db, name);
    return row ? new Docker(engineOptions(row.docker_url, openServerTls(secretBox, row))) : undefined;
  };
  const ingress = (app: string) => ({ appHost: hostnameFor(app, PRODUCTION, config.domain), addresses: config.ingressAddresses });
  const runtimeDeps = { db, instance: config.instance, engineFor, ingress };
  const apiAuth = new ApiAuth(db, config.apiToken, auth);
  const logs = runtimeLogRoutes({ db, instance: config.instance, auth, box: secretBox, engineFor });
  return {
    api: [...logs.api, execWithoutUpgrade(), ...accessTokenRoutes(db, auth, { apiAuth, box: secretBox })],
    apiAuth,
    users,
    pages: [
      logs.page,
      tokensPage(db, auth, apiAuth),
      loginRoutes(db, auth, { publicUrl: config.publicUrl, apiToken: config.apiToken }),
      previewLoginRoutes(db, auth, (hostname) => publicUrl(hostname, config.tls, config.ingressHttpPort, config.ingressHttpsPort)),
      dashboardPages(db, auth, { configured: Boolean(config.github), githubWebUrl: config.githubWebUrl, urlFor: deps.urlFor, buildConcurrency: config.buildConcurrency, appBuildConcurrency: config.appBuildConcurrency, runtime: (app) => appRuntime(runtimeDeps, app) }),
      environmentActions(db, auth, { sleep: () => deps.sleep, log: deps.log.child({ component: "dashboard" }) }),
      dashboardActions(db, auth, { webhooks: deps.webhooks, rollback: deps.rollback }),
      pageRoutes(db, auth, { pageSecret: deps.pageSecret, streams: deps.streams }),
      serversPage(db, auth, { box: secretBox, localDocker: config.dockerHost }),
      terminalPage(db, auth, { instance: config.instance, engineFor }),
      assetRoute(),
    ],
    // For the exec WebSocket (server/exec-socket.ts), which is wired on the listener's upgrades.
    auth,
    engineFor,
  };
}
