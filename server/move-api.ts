import { randomUUID } from "node:crypto";
import { PRODUCTION, prNumberOf, publicName } from "../core/names.js";
import { SERVER_NAME } from "../core/server-names.js";
import type { Manifest } from "../manifest/manifest.js";
import type { App, Db } from "../store/db.js";
import { getPlacement, movePlacement } from "../store/placement-store.js";
import { liveRelease } from "../store/queries.js";
import { findServer, LOCAL_RELEASE_SERVER, releaseServer, shownServer } from "../store/server-store.js";
import type { ApiRoute } from "./api-router.js";
import { APP_PARAM, err, int, json, obj, str, strOrNull } from "./api-schemas.js";
import { RedeployRefused, redeploy } from "./redeploy.js";
import { sendError, sendJson } from "./respond.js";
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
export function moveApiRoutes(db: Db, deps: WebhookDeps | undefined): ApiRoute[] {
  const invalid = 'Send {"server": "<name from GET /api/v1/servers>", "environment": "production" | "pr-<N>"}.';
  return [
    {
      method: "POST", path: "/api/v1/apps/{app}/move", auth: "write", params: { app: APP_PARAM },
      summary: "Place an environment on another server and release its live commit there",
      body: {
        schema: { type: "object", properties: { server: { type: "string", pattern: SERVER_NAME.source }, environment: { type: "string", pattern: "^(production|pr-[0-9]{1,9})$" } }, required: ["server"] },
        maxBytes: 4096,
        example: { server: "droid1", environment: "production" },
        invalid,
      },
      responses: {
        200: json("placed; nothing was live to release", obj({ environment: str, from: strOrNull, to: str, deployment: { type: "null" } })),
        202: json("placed; the live commit is being released there", obj({ environment: str, from: str, to: str, deployment: obj({ id: int, sha: str, state: str }) })),
        400: err("a bad body"),
        404: err("no such app or server"),
        409: err("already there, keeps data in volumes, or no GitHub App"),
      },
      handle: async ({ res, app, body }) => {
        if (!deps) return sendError(res, 409, "This berth has no GitHub App configured, so it cannot release: finish /setup first.");
        const b = body as { server: string; environment?: string };
        const environment = b.environment ?? PRODUCTION;
        if (environment !== PRODUCTION && prNumberOf(environment) === undefined) return sendError(res, 400, invalid);
        const target = releaseServer(b.server);
        if (target !== LOCAL_RELEASE_SERVER && !(await findServer(db, target))) return sendError(res, 404, `No server named ${b.server}; GET /api/v1/servers lists them.`);
        const live = await liveRelease(db, app.id, environment);
        const current = (await getPlacement(db, app.id, environment)) ?? live?.server;
        if (current === target) return sendError(res, 409, `${environment} of ${publicName(app)} lives on ${b.server} already.`);
        const kept = dataKept(await latestManifest(db, app, environment));
        if (live && kept.length > 0) {
          return sendError(res, 409, `${environment} of ${publicName(app)} keeps data in volume${kept.length > 1 ? "s" : ""} ${kept.join(", ")} on server ${shownServer(current ?? LOCAL_RELEASE_SERVER)}, and berth does not copy volumes: a move would start it empty on ${b.server}. Copy the data over yourself (docker run --rm -v VOLUME:/v … tar) before moving, or remove the volumes from berth.yaml.`);
        }
        await movePlacement(db, app.id, environment, target);
        if (!live) return sendJson(res, 200, { environment, from: current ? shownServer(current) : null, to: b.server, deployment: null });
        try {
          const d = await redeploy(deps, app, { environment, deliveryId: `move-${randomUUID()}` });
          deps.log.info({ app: publicName(app), environment, from: current, to: target, deploymentId: d.id }, "moving an environment");
          sendJson(res, 202, { environment, from: shownServer(current ?? LOCAL_RELEASE_SERVER), to: b.server, deployment: { id: d.id, sha: d.sha, state: d.state } });
        } catch (e) {
          if (!(e instanceof RedeployRefused)) throw e;
          sendError(res, e.status, e.message);
        }
      },
    },
  ];
}
