import { RUNNING_STATES, type Db } from "../store/db.js";
import { publicName } from "../core/names.js";
import { pageKeyMatches } from "../core/page-key.js";
import type { Sensitive } from "../core/sensitive.js";
import { render } from "../core/templates.js";
import { getDeployment, listApps, listDeployments, readBuildLog } from "../store/queries.js";
import type { LogStreams } from "./log-streams.js";
import { sendHtml, sendText, type Route } from "./respond.js";
import { handleSession, isAdmin } from "./admin-session.js";
import { phaseTimeline, type Phases } from "../store/phases.js";
import { sleepingEnvironments } from "../store/sleep-store.js";

/** The deployment page's timing table: each phase with its time of day and seconds since the previous one and since the webhook. */
function phaseRows(phases: Phases): { label: string; at: string; step: string; total: string }[] {
  return phaseTimeline(phases).map((p) => ({ label: p.label, at: new Date(p.at).toISOString().slice(11, 23), step: (p.sincePrevious / 1000).toFixed(2), total: (p.sinceStart / 1000).toFixed(2) }));
}

/**
 * Server-rendered pages: the app list (for the admin token) and each deployment with its build log
 * (for whoever holds the keyed link from the check run, or the admin token).
 */
export function pageRoutes(db: Db, opts: { configured: boolean; pageSecret: Sensitive | undefined; apiToken: Sensitive | undefined; secureCookies: boolean; streams: LogStreams }): Route {
  return async (req, res, url) => {
    if (await handleSession(req, res, url, opts.apiToken, opts.secureCookies)) return true;
    if (req.method !== "GET") return false;
    const admin = isAdmin(req, opts.apiToken);
    if (url.pathname === "/") {
      if (!admin) {
        sendHtml(res, 200, render("index.html", { apps: [], locked: true, configured: opts.configured, root: "" }));
        return true;
      }
      const apps = await Promise.all(
        (await listApps(db)).map(async (a) => ({ ...a, name: publicName(a), latest: (await listDeployments(db, a.id, 1))[0], sleeping: await sleepingEnvironments(db, a.id) })),
      );
      sendHtml(res, 200, render("index.html", { apps, configured: opts.configured, root: "" }));
      return true;
    }
    const m = /^\/deployments\/(\d+)(\/log|\/events)?$/.exec(url.pathname);
    if (!m) return false;
    const id = Number(m[1]);
    const allowed = admin || (opts.pageSecret !== undefined && pageKeyMatches(opts.pageSecret, id, url.searchParams.get("key")));
    const found = allowed ? await getDeployment(db, id) : undefined;
    if (!found) {
      sendText(res, 404, "No such deployment.\n");
      return true;
    }
    const client = req.socket.remoteAddress ?? "unknown";
    if (m[2] === "/events") {
      const lastEventId = req.headers["last-event-id"];
      opts.streams.open(found.deployment.id, client, res, typeof lastEventId === "string" ? lastEventId : undefined);
      return true;
    }
    const log = await readBuildLog(db, found.deployment.id);
    const query = url.search;
    // Without a free stream the page is a snapshot: its script reloads a second after a refused stream,
    // and every reload would read the whole log again.
    const running = RUNNING_STATES.has(found.deployment.state) && opts.streams.admits(client);
    if (m[2]) sendText(res, 200, log);
    else sendHtml(res, 200, render("deployment.html", { ...found, appName: publicName(found.app), log, running, root: "", query, phases: phaseRows(found.deployment.phases) }));
    return true;
  };
}
