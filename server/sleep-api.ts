import type { App, Db } from "../store/db.js";
import { publicName } from "../core/names.js";
import { sleepStates } from "../store/sleep-store.js";
import { sleepAfterFor } from "../releaser/sleep-plan.js";
import type { WakeOutcome } from "../releaser/sleep.js";
import type { ApiRoute } from "./api-router.js";
import { APP_PARAM, ENVIRONMENT_STATE, PREVIEW, err, json, list } from "./api-schemas.js";
import { sendError, sendJson } from "./respond.js";

/** What the API asks of the sleeper; absent in a process that does not run the releaser role. */
export interface SleepControl {
  sleepEnvironment(appId: number, environment: string): Promise<boolean>;
  wakeEnvironment(appId: number, environment: string): Promise<WakeOutcome>;
}

const ENVIRONMENT = /^(production|pr-\d{1,9})$/;

/**
 * The environments API: `GET /api/v1/apps/{app}/environments[/{env}]` (live environments with their
 * state, `live` or `sleeping`), `POST …/environments/{env}/wake` and `…/sleep`, and
 * `GET /api/v1/apps/{app}/previews` (every pull request's preview, open or not, newest first).
 */
export function sleepApiRoutes(db: Db, control: SleepControl | undefined, previewSleepAfterMs: number | null, urlFor: (app: string, environment: string) => string): ApiRoute[] {
  const envParam = { type: "string", description: "production or pr-<N>" } as const;
  const badEnv = (env: string): string | undefined => (ENVIRONMENT.test(env) ? undefined : `An environment is production or pr-<N>; got ${JSON.stringify(env.slice(0, 40))}.`);
  const changed = { ...ENVIRONMENT_STATE, properties: { ...ENVIRONMENT_STATE.properties, changed: { type: "boolean" } } } as const;
  const act = (action: "wake" | "sleep"): ApiRoute => ({
    method: "POST", path: `/api/v1/apps/{app}/environments/{env}/${action}`, auth: "write", params: { app: APP_PARAM, env: envParam },
    summary: action === "wake" ? "Wake a sleeping environment" : "Put an environment to sleep (stop its containers until a request comes)",
    responses: { 200: json("the environment now; changed says whether this call changed it", changed), 400: err("not an environment name"), 404: err("no such app or live environment"), 409: err("this process does not run the releaser role"), 503: err("it did not wake (wake only)") },
    handle: async ({ res, app, params }) => {
      const name = params.env!;
      const bad = badEnv(name);
      if (bad) return sendError(res, 400, bad);
      if (!control) return sendError(res, 409, "This berth process does not run the releaser role, which wakes and puts environments to sleep: send this to one that does.");
      if (action === "sleep") {
        const slept = await control.sleepEnvironment(app.id, name);
        const now = (await environmentsOf(db, app, previewSleepAfterMs)).find((e) => e.name === name);
        if (!now) return sendError(res, 404, `App ${publicName(app)} has no live environment ${name} to put to sleep.`);
        return sendJson(res, 200, { ...now, changed: slept });
      }
      let outcome: WakeOutcome;
      try {
        outcome = await control.wakeEnvironment(app.id, name);
      } catch (e) {
        res.setHeader("retry-after", "5");
        return sendError(res, 503, `The environment did not wake: ${(e as Error).message}`);
      }
      if (outcome === "unknown") return sendError(res, 404, `App ${publicName(app)} has no live environment ${name} to wake.`);
      const now = (await environmentsOf(db, app, previewSleepAfterMs)).find((e) => e.name === name);
      sendJson(res, 200, { ...now, changed: outcome === "woken" });
    },
  });
  return [
    {
      method: "GET", path: "/api/v1/apps/{app}/environments", auth: "read", params: { app: APP_PARAM }, summary: "An app's live environments, live or sleeping",
      responses: { 200: json("the environments", list(ENVIRONMENT_STATE)), 404: err("no such app") },
      handle: async ({ res, app }) => sendJson(res, 200, await environmentsOf(db, app, previewSleepAfterMs)),
    },
    {
      method: "GET", path: "/api/v1/apps/{app}/environments/{env}", auth: "read", params: { app: APP_PARAM, env: envParam }, summary: "One live environment",
      responses: { 200: json("the environment", ENVIRONMENT_STATE), 400: err("not an environment name"), 404: err("no such app or live environment") },
      handle: async ({ res, app, params }) => {
        const bad = badEnv(params.env!);
        if (bad) return sendError(res, 400, bad);
        const one = (await environmentsOf(db, app, previewSleepAfterMs)).find((e) => e.name === params.env);
        if (one) sendJson(res, 200, one);
        else sendError(res, 404, `App ${publicName(app)} has no live environment ${params.env}; GET /api/v1/apps/${publicName(app)}/environments lists them.`);
      },
    },
    act("wake"),
    act("sleep"),
    {
      method: "GET", path: "/api/v1/apps/{app}/previews", auth: "read", params: { app: APP_PARAM }, summary: "An app's pull request previews (the newest 200), open or not",
      query: { state: { type: "string", enum: ["open", "all"], description: "open (default) or all" } },
      responses: { 200: json("the previews", list(PREVIEW)), 400: err("a bad state"), 404: err("no such app") },
      handle: async ({ res, url, app }) => {
        const state = url.searchParams.get("state") ?? "open";
        if (state !== "open" && state !== "all") return sendError(res, 400, `state is open (the default) or all; got ${JSON.stringify(state.slice(0, 20))}.`);
        const [rows, live] = await Promise.all([
          db.selectFrom("environments").selectAll().where("app_id", "=", app.id).$if(state === "open", (q) => q.where("state", "=", "open")).orderBy("id", "desc").limit(200).execute(),
          db.selectFrom("releases").select("environment").where("app_id", "=", app.id).where("state", "=", "live").execute(),
        ]);
        const liveSet = new Set(live.map((r) => r.environment));
        sendJson(res, 200, rows.map((e) => ({ name: e.name, pullRequest: e.pr_number, state: e.state, fork: e.fork, headSha: e.head_sha, url: urlFor(publicName(app), e.name), live: liveSet.has(e.name), createdAt: e.created_at })));
      },
    },
  ];
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
