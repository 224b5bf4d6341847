import type { App, Db } from "../store/db.js";
import type { Sensitive } from "../core/sensitive.js";
import { publicName } from "../core/names.js";
import { findAppByName } from "../store/queries.js";
import { sleepStates } from "../store/sleep-store.js";
import { sleepAfterFor } from "../releaser/sleep-plan.js";
import type { WakeOutcome } from "../releaser/sleep.js";
import { apiAllowed } from "./admin-session.js";
import { sendError, sendJson, type Route } from "./respond.js";

/** What the API asks of the sleeper; absent in a process that does not run the releaser role. */
export interface SleepControl {
  sleepEnvironment(appId: number, environment: string): Promise<boolean>;
  wakeEnvironment(appId: number, environment: string): Promise<WakeOutcome>;
}

const ENVIRONMENT = /^(production|pr-\d{1,9})$/;

/**
 * The environments API: `GET /api/v1/apps/{app}/environments[/{env}]` (live environments with their
 * state, `live` or `sleeping`), `POST …/environments/{env}/wake` and `…/sleep`; admin token only.
 */
export function sleepApiRoutes(db: Db, token: Sensitive | undefined, control: SleepControl | undefined, previewSleepAfterMs: number | null): Route {
  return async (req, res, url) => {
    const m = /^\/api\/v1\/apps\/([a-z0-9-]+)\/environments(?:\/([^/]+)(?:\/(wake|sleep))?)?$/.exec(url.pathname.replace(/\/+$/, ""));
    if (!m) return false;
    if (!apiAllowed(req, res, token)) return true;
    const [, appName = "", env, action] = m;
    const app = await findAppByName(db, appName);
    if (!app) return void sendError(res, 404, `No app named ${appName}; GET /api/v1/apps lists them.`), true;
    if (env !== undefined && !ENVIRONMENT.test(env)) return void sendError(res, 400, `An environment is production or pr-<N>; got ${JSON.stringify(env.slice(0, 40))}.`), true;
    if (!action) {
      if (req.method !== "GET") return void sendError(res, 405, "Environments are read with GET; POST …/wake or …/sleep changes one."), true;
      const all = await environmentsOf(db, app, previewSleepAfterMs);
      if (env === undefined) return void sendJson(res, 200, all), true;
      const one = all.find((e) => e.name === env);
      if (one) sendJson(res, 200, one);
      else sendError(res, 404, `App ${publicName(app)} has no live environment ${env}; GET /api/v1/apps/${publicName(app)}/environments lists them.`);
      return true;
    }
    if (req.method !== "POST") return void sendError(res, 405, `Use POST to ${action} an environment.`), true;
    if (!control) return void sendError(res, 409, "This berth process does not run the releaser role, which wakes and puts environments to sleep: send this to one that does."), true;
    const name = env ?? "";
    if (action === "sleep") {
      const slept = await control.sleepEnvironment(app.id, name);
      const now = (await environmentsOf(db, app, previewSleepAfterMs)).find((e) => e.name === name);
      if (!now) return void sendError(res, 404, `App ${publicName(app)} has no live environment ${name} to put to sleep.`), true;
      sendJson(res, 200, { ...now, changed: slept });
      return true;
    }
    let outcome: WakeOutcome;
    try {
      outcome = await control.wakeEnvironment(app.id, name);
    } catch (e) {
      res.setHeader("retry-after", "5");
      return void sendError(res, 503, `The environment did not wake: ${(e as Error).message}`), true;
    }
    if (outcome === "unknown") return void sendError(res, 404, `App ${publicName(app)} has no live environment ${name} to wake.`), true;
    const now = (await environmentsOf(db, app, previewSleepAfterMs)).find((e) => e.name === name);
    sendJson(res, 200, { ...now, changed: outcome === "woken" });
    return true;
  };
}

/** An app's live environments: state (`live` or `sleeping`), URL host, sleep_after and the times behind them. */
async function environmentsOf(db: Db, app: App, previewSleepAfterMs: number | null): Promise<Record<string, unknown>[]> {
  const rows = await db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .select(["releases.environment", "releases.hostname", "releases.server", "releases.live_at", "deployments.id as deployment", "deployments.sha", "deployments.manifest"])
    .where("releases.app_id", "=", app.id)
    .where("releases.state", "=", "live")
    .orderBy("releases.environment")
    .execute();
  const sleep = await sleepStates(db, app.id);
  return rows.map((r) => {
    const s = sleep.get(r.environment);
    const after = sleepAfterFor(r.environment, r.manifest, previewSleepAfterMs);
    return {
      name: r.environment,
      state: s?.sleepingAt ? "sleeping" : "live",
      hostname: r.hostname,
      server: r.server,
      deployment: r.deployment,
      sha: r.sha,
      sleepAfterSeconds: after === null ? null : after / 1000,
      sleepingSince: s?.sleepingAt ?? null,
      lastRequestAt: s?.lastRequestAt ?? null,
      wokenAt: s?.wokenAt ?? null,
      liveAt: r.live_at,
    };
  });
}
