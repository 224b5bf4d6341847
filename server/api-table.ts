import type { Logger } from "../core/logger.js";
import type { GitHubUserClient } from "../github/user-client.js";
import type { SecretBox } from "../core/secret-box.js";
import type { Db } from "../store/db.js";
import { appRoutes, type ApiActions } from "./api.js";
import type { ApiAuth } from "./api-auth.js";
import { apiRouter, type AnyApiRoute } from "./api-router.js";
import { deploymentsApiRoutes } from "./deployments-api.js";
import { domainRoutes } from "./domains-api.js";
import { moveApiRoutes } from "./move-api.js";
import { openApiRoute } from "./openapi.js";
import type { Route } from "./respond.js";
import { serverRoutes, type ServerRoutesOptions } from "./servers-api.js";
import { sleepApiRoutes, type SleepControl } from "./sleep-api.js";
import type { WebhookDeps } from "./start-deployment.js";
import { tokenRoutes } from "./tokens-api.js";

/** The API document's version: the /api/v1 contract, changed when a route changes. */
export const API_VERSION = "1.1.0";

export interface ApiTableDeps {
  db: Db;
  auth: ApiAuth;
  log: Logger;
  box: SecretBox | undefined;
  actions: ApiActions;
  /** Absent while no GitHub App is configured: building routes answer 409. */
  webhooks: WebhookDeps | undefined;
  sleep: SleepControl | undefined;
  previewSleepAfterMs: number | null;
  urlFor: (app: string, environment: string) => string;
  servers: ServerRoutesOptions;
  users: GitHubUserClient | undefined;
  version: string;
  /**
   * More routes, as table entries or legacy `Route` functions mounted at a path
   * (`{ method, path, summary, responses, legacy }`): the router and the document take them alike.
   */
  extra?: AnyApiRoute[];
}

/** Every /api/v1 route: the one table the router serves and the OpenAPI document describes. */
export function apiTable(d: ApiTableDeps): AnyApiRoute[] {
  const routes: AnyApiRoute[] = [
    ...appRoutes(d.db, d.auth, d.box, d.actions),
    ...deploymentsApiRoutes(d.db, d.auth, d.webhooks),
    ...moveApiRoutes(d.db, d.webhooks),
    ...domainRoutes(d.db),
    ...sleepApiRoutes(d.db, d.sleep, d.previewSleepAfterMs, d.urlFor),
    ...serverRoutes(d.db, d.box, d.servers),
    ...tokenRoutes(d.db, d.auth, d.users, d.log),
    ...(d.extra ?? []),
  ];
  routes.push(openApiRoute(() => routes, { version: d.version }));
  return routes;
}

/** The /api/v1 listener route: the table behind find-my-way. */
export function apiRoute(d: ApiTableDeps): { route: Route; routes: AnyApiRoute[] } {
  const routes = apiTable(d);
  return { route: apiRouter(routes, d), routes };
}
