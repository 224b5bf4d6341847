import { hostAccesses } from "../store/preview-access-store.js";
import type { ServerResponse } from "node:http";
import { PRODUCTION, prNumberOf, publicName } from "../core/names.js";
import { ago } from "../core/templates.js";
import { allows } from "../github/user-client.js";
import type { Db } from "../store/db.js";
import { appEnvironments, appsOverview, buildQueue, deploymentHistory } from "../store/dashboard-queries.js";
import { findAppByName } from "../store/queries.js";
import { listSecretNames } from "../store/secret-store.js";
import { took } from "../core/templates.js";
import { SessionEnded, askToSignIn, localPath, type DashboardAuth, type Viewer } from "./dashboard-auth.js";
import { sendSignIn } from "./login-routes.js";
import { sendText, type Route } from "./respond.js";
import { sendPage } from "./html-page.js";
import type { AppRuntime } from "./app-runtime.js";

export interface DashboardPageOptions {
  configured: boolean;
  githubWebUrl: string;
  urlFor: (app: string, environment: string) => string;
  buildConcurrency: number;
  appBuildConcurrency: number;
  /** Containers, domains and sleep of an app (server/app-runtime.ts); the page shows none without it. */
  runtime?: (app: { id: number; name: string; publicName: string }) => Promise<AppRuntime>;
}

function page(res: ServerResponse, name: string, data: object): void {
  sendPage(res, 200, name, data);
}

/**
 * The dashboard's pages, server-rendered: `/` every app the viewer can read (production state, URL,
 * last deploy, live previews), `/apps/{app}` its environments, deployments and secret names, `/queue`
 * what is building and what waits, and why. One query per page for the data, plus the permission
 * lookups (cached) for a GitHub user.
 */
export function dashboardPages(db: Db, auth: DashboardAuth, o: DashboardPageOptions): Route {
  return async (req, res, url) => {
    if (req.method !== "GET") return false;
    const path = url.pathname.replace(/(.)\/+$/, "$1");
    const appMatch = /^\/apps\/([a-z0-9-]{1,63})$/.exec(path);
    if (path !== "/" && path !== "/queue" && !appMatch) return false;
    const viewer = await auth.viewer(req);
    if (!viewer) {
      if (path === "/") sendSignIn(res, auth, { configured: o.configured, next: localPath(url.searchParams.get("next")) });
      else askToSignIn(req, res, url);
      return true;
    }
    try {
      if (path === "/") await appsPage(db, auth, viewer, o, res);
      else if (path === "/queue") await queuePage(db, auth, viewer, o, res);
      else await appPage(db, auth, viewer, o, res, appMatch![1]!);
    } catch (e) {
      if (!(e instanceof SessionEnded)) throw e;
      askToSignIn(req, res, url);
    }
    return true;
  };
}

async function appsPage(db: Db, auth: DashboardAuth, viewer: Viewer, o: DashboardPageOptions, res: ServerResponse): Promise<void> {
  const all = await appsOverview(db);
  const access = await auth.accessAll(viewer, all.map((r) => r.app));
  const apps = all
    .filter((r) => allows(access.get(r.app.id) ?? "none", "read"))
    .map((r) => ({ ...r, name: publicName(r.app), repo: r.app.repo_full_name, archived: r.app.archived_at !== null, url: o.urlFor(publicName(r.app), PRODUCTION) }));
  page(res, "apps.html", { viewer, apps });
}

async function appPage(db: Db, auth: DashboardAuth, viewer: Viewer, o: DashboardPageOptions, res: ServerResponse, name: string): Promise<void> {
  const app = await findAppByName(db, name);
  const access = app ? await auth.access(viewer, app) : "none";
  if (!app || !allows(access, "read")) {
    sendText(res, 404, `No app named ${name}, or none you can read.\n`);
    return;
  }
  const writer = allows(access, "write");
  const pub = publicName(app);
  const [environments, history, secrets, runtime, hosts] = await Promise.all([appEnvironments(db, app.id), deploymentHistory(db, app.id), listSecretNames(db, app.id), o.runtime?.({ id: app.id, name: app.name, publicName: pub }), hostAccesses(db, { appId: app.id })]);
  const liveProduction = environments.find((e) => e.name === PRODUCTION)?.live?.deploymentId;
  page(res, "app.html", {
    viewer,
    name: pub,
    repo: app.repo_full_name,
    repoUrl: `${o.githubWebUrl}/${app.repo_full_name}`,
    archived: app.archived_at !== null,
    canWrite: writer,
    environments: environments.map((e) => ({
      ...e,
      prUrl: e.prNumber ? `${o.githubWebUrl}/${app.repo_full_name}/pull/${e.prNumber}` : undefined,
      url: o.urlFor(pub, e.name),
      sleeping: runtime?.sleeping.has(e.name) ?? false,
      // Needs a GitHub login (or its access token): writers get a link to the token.
      loginRequired: hosts.some((h) => h.environment === e.name && h.access === "github"),
    })),
    containers: runtime?.containers.map((c) => ({ ...c, canExec: writer && c.state === "running" })) ?? [],
    unreachable: runtime?.unreachable.join(", "),
    domains: runtime?.domains ?? [],
    sessions: writer ? runtime?.sessions ?? [] : [],
    deployments: history.deployments.map((d) => ({
      id: d.id,
      environment: d.environment,
      sha: d.sha,
      state: d.state,
      actor: d.actor,
      rollbackOf: d.rollback_of,
      createdAt: d.created_at,
      queued: took(d.created_at, d.started_at ?? undefined),
      build: took(d.started_at ?? undefined, d.built_at ?? undefined),
      release: took(d.built_at ?? undefined, d.phases.route_switched ?? d.finished_at ?? undefined),
      total: took(d.created_at, d.finished_at ?? undefined),
      canRollback: writer && d.environment === PRODUCTION && d.image !== null && history.wentLive.has(d.id) && d.id !== liveProduction,
      canCancel: writer && ["queued", "waiting", "building"].includes(d.state),
    })),
    secrets: secrets.map((s) => ({ name: s.name, scopes: s.scopes.join(", "), updatedAt: s.updatedAt })),
  });
}

async function queuePage(db: Db, auth: DashboardAuth, viewer: Viewer, o: DashboardPageOptions, res: ServerResponse): Promise<void> {
  const all = await buildQueue(db);
  const access = await auth.accessAll(viewer, [...new Map(all.map((e) => [e.app.id, e.app])).values()]);
  const visible = all.filter((e) => allows(access.get(e.app.id) ?? "none", "read"));
  const building = new Map<number, number>();
  for (const e of all) if (e.deployment.state === "building" || (e.deployment.state === "queued" && e.deployment.dispatched_at)) building.set(e.app.id, (building.get(e.app.id) ?? 0) + 1);
  const entries = visible.map(({ deployment: d, app }) => {
    const limit = app.build_concurrency ?? o.appBuildConcurrency;
    const why =
      d.state === "building" ? "building"
      : d.state === "releasing" ? "releasing"
      : d.state === "waiting" ? (prNumberOf(d.environment) !== undefined ? "a fork's pull request: waits for a writer to add the label berth:preview" : "waits for approval")
      : d.dispatched_at ? "waits for a free builder"
      : `waits for a build slot of its app (${building.get(app.id) ?? 0} of ${limit} in use)`;
    const since = d.state === "building" ? `started ${ago(d.started_at)}` : d.state === "releasing" ? `built ${ago(d.built_at)}` : `queued ${ago(d.created_at)}`;
    return { id: d.id, sha: d.sha, app: publicName(app), environment: d.environment, state: d.state, why, since };
  });
  const running = entries.filter((e) => e.state === "building" || e.state === "releasing").length;
  page(res, "queue.html", { viewer, entries, running, waiting: entries.length - running, buildConcurrency: o.buildConcurrency, appBuildConcurrency: o.appBuildConcurrency });
}
