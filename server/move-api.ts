import { randomUUID } from "node:crypto";
import { PRODUCTION, prNumberOf, publicName } from "../core/names.js";
import type { Sensitive } from "../core/sensitive.js";
import { SERVER_NAME } from "../core/server-names.js";
import type { Manifest } from "../manifest/manifest.js";
import type { App, Db } from "../store/db.js";
import { getPlacement, movePlacement } from "../store/placement-store.js";
import { findAppByName, liveRelease } from "../store/queries.js";
import { findServer, LOCAL_RELEASE_SERVER, releaseServer, shownServer } from "../store/server-store.js";
import { apiAllowed } from "./admin-session.js";
import { RedeployRefused, redeploy } from "./redeploy.js";
import { readJson, sendError, sendJson, type Route } from "./respond.js";
import type { WebhookDeps } from "./start-deployment.js";

/** The data an environment keeps on its server, which a move would leave behind: volume names, or none. */
export function dataKept(manifest: Manifest | null | undefined): string[] {
  if (!manifest) return [];
  const mounted = [...manifest.web.volumes, ...Object.values(manifest.processes).flatMap((p) => p.volumes), ...Object.values(manifest.services).flatMap((s) => s.volumes)];
  return [...new Set([...manifest.volumes, ...mounted.map((m) => m.volume)])].sort();
}

async function latestManifest(db: Db, app: App, environment: string): Promise<Manifest | null | undefined> {
  const row = await db.selectFrom("deployments").select("manifest").where("app_id", "=", app.id).where("environment", "=", environment).where("manifest", "is not", null).orderBy("id", "desc").limit(1).executeTakeFirst();
  return row?.manifest;
}

/**
 * `POST /api/v1/apps/{app}/move` with `{"server": NAME, "environment": "production"}`: the environment
 * is placed on that server and its live commit released there, with the usual switch (the front door
 * forwards its hostname to the new server once the release there is healthy; the old one drains and
 * everything of the environment on the old server is then removed). berth does not copy volumes, so an
 * environment that keeps data in volumes is refused, naming them, rather than started empty elsewhere.
 */
export function moveApiRoutes(db: Db, token: Sensitive | undefined, deps: WebhookDeps | undefined): Route {
  return async (req, res, url) => {
    if (req.method !== "POST") return false;
    const m = /^\/api\/v1\/apps\/([a-z0-9-]+)\/move$/.exec(url.pathname.replace(/\/+$/, ""));
    if (!m) return false;
    if (!apiAllowed(req, res, token)) return true;
    const fail = (status: number, message: string): true => {
      sendError(res, status, message);
      return true;
    };
    if (!deps) return fail(409, "This berth has no GitHub App configured, so it cannot release: finish /setup first.");
    const app = await findAppByName(db, m[1] ?? "");
    if (!app) return fail(404, `No app named ${m[1]}; GET /api/v1/apps lists them.`);
    const body = (await readJson(req, 4096)) as { server?: unknown; environment?: unknown } | undefined;
    const environment = body?.environment ?? PRODUCTION;
    if (!body || typeof body.server !== "string" || !SERVER_NAME.test(body.server) || typeof environment !== "string" || (environment !== PRODUCTION && prNumberOf(environment) === undefined)) {
      return fail(400, 'Send {"server": "<name from GET /api/v1/servers>", "environment": "production" | "pr-<N>"}.');
    }
    const target = releaseServer(body.server);
    if (target !== LOCAL_RELEASE_SERVER && !(await findServer(db, target))) return fail(404, `No server named ${body.server}; GET /api/v1/servers lists them.`);
    const live = await liveRelease(db, app.id, environment);
    const current = (await getPlacement(db, app.id, environment)) ?? live?.server;
    if (current === target) return fail(409, `${environment} of ${publicName(app)} lives on ${body.server} already.`);
    const kept = dataKept(await latestManifest(db, app, environment));
    if (live && kept.length > 0) {
      return fail(409, `${environment} of ${publicName(app)} keeps data in volume${kept.length > 1 ? "s" : ""} ${kept.join(", ")} on server ${shownServer(current ?? LOCAL_RELEASE_SERVER)}, and berth does not copy volumes: a move would start it empty on ${body.server}. Copy the data over yourself (docker run --rm -v VOLUME:/v … tar) before moving, or remove the volumes from berth.yaml.`);
    }
    await movePlacement(db, app.id, environment, target);
    if (!live) {
      sendJson(res, 200, { environment, from: current ? shownServer(current) : null, to: body.server, deployment: null });
      return true;
    }
    try {
      const d = await redeploy(deps, app, { environment, deliveryId: `move-${randomUUID()}` });
      deps.log.info({ app: publicName(app), environment, from: current, to: target, deploymentId: d.id }, "moving an environment");
      sendJson(res, 202, { environment, from: shownServer(current ?? LOCAL_RELEASE_SERVER), to: body.server, deployment: { id: d.id, sha: d.sha, state: d.state } });
    } catch (e) {
      if (!(e instanceof RedeployRefused)) throw e;
      sendError(res, e.status, e.message);
    }
    return true;
  };
}
