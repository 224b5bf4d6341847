import { RUNNING_STATES, type Db } from "../store/db.js";
import { PRODUCTION, publicName } from "../core/names.js";
import { pageKeyMatches } from "../core/page-key.js";
import type { Sensitive } from "../core/sensitive.js";
import { allows, type Access } from "../github/user-client.js";
import { getDeployment, readBuildLog } from "../store/queries.js";
import type { LogStreams } from "./log-streams.js";
import { sendText, type Route } from "./respond.js";
import { sendPage } from "./html-page.js";
import { phaseTimeline, type Phases } from "../store/phases.js";
import { SessionEnded, askToSignIn, type DashboardAuth } from "./dashboard-auth.js";

/** The deployment page's timing table: each phase with its time of day and seconds since the previous one and since the webhook. */
function phaseRows(phases: Phases): { label: string; at: string; step: string; total: string }[] {
  return phaseTimeline(phases).map((p) => ({ label: p.label, at: new Date(p.at).toISOString().slice(11, 23), step: (p.sincePrevious / 1000).toFixed(2), total: (p.sinceStart / 1000).toFixed(2) }));
}

/**
 * Each deployment's page with its build log, live while it runs (`/events`, server-sent events) and
 * raw (`/log`): for a signed-in user who can read the app's repository, or whoever holds the keyed
 * link from the check run. Writers get its buttons (redeploy, roll back, cancel).
 */
export function pageRoutes(db: Db, auth: DashboardAuth, opts: { pageSecret: Sensitive | undefined; streams: LogStreams }): Route {
  return async (req, res, url) => {
    if (req.method !== "GET") return false;
    const m = /^\/deployments\/(\d{1,9})(\/log|\/events)?$/.exec(url.pathname);
    if (!m) return false;
    const id = Number(m[1]);
    const keyed = opts.pageSecret !== undefined && pageKeyMatches(opts.pageSecret, id, url.searchParams.get("key"));
    const viewer = await auth.viewer(req);
    if (!viewer && !keyed) {
      askToSignIn(req, res, url);
      return true;
    }
    const found = await getDeployment(db, id);
    let access: Access = "none";
    try {
      access = viewer && found ? await auth.access(viewer, found.app) : "none";
    } catch (e) {
      if (!(e instanceof SessionEnded)) throw e;
      if (!keyed) {
        askToSignIn(req, res, url);
        return true;
      }
    }
    if (!found || (!keyed && !allows(access, "read"))) {
      sendText(res, 404, "No such deployment, or none you can read.\n");
      return true;
    }
    const client = req.socket.remoteAddress ?? "unknown";
    if (m[2] === "/events") {
      const lastEventId = req.headers["last-event-id"];
      opts.streams.open(found.deployment.id, client, res, typeof lastEventId === "string" ? lastEventId : undefined);
      return true;
    }
    const log = await readBuildLog(db, found.deployment.id);
    if (m[2]) {
      sendText(res, 200, log);
      return true;
    }
    // Without a free stream the page is a snapshot: its script reloads a second after a refused stream,
    // and every reload would read the whole log again.
    const d = found.deployment;
    const running = RUNNING_STATES.has(d.state) && opts.streams.admits(client);
    const writer = allows(access, "write");
    const actions = writer
      ? {
          redeploy: d.state !== "waiting",
          // A production deployment that was live once (its image passed a health check) and is not now.
          rollback: d.environment === PRODUCTION && d.image !== null && d.state === "replaced",
          cancel: ["queued", "waiting", "building"].includes(d.state),
        }
      : undefined;
    // The page's URL may hold its key: sendPage's referrer policy keeps a link out of it from carrying it along.
    sendPage(res, 200, "deployment.html", { ...found, viewer: access === "none" ? undefined : viewer, actions, appName: publicName(found.app), log, running, root: "", query: url.search, phases: phaseRows(d.phases) });
    return true;
  };
}
