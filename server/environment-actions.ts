import { publicName } from "../core/names.js";
import { allows } from "../github/user-client.js";
import type { Db } from "../store/db.js";
import { findAppByName } from "../store/queries.js";
import { SessionEnded, type DashboardAuth } from "./dashboard-auth.js";
import { sendProblem } from "./login-routes.js";
import { readForm, type Route } from "./respond.js";
import type { SleepControl } from "./sleep-api.js";
import type { Logger } from "../core/logger.js";

/**
 * The app page's sleep and wake buttons: `POST /apps/{app}/environments/{env}/sleep|wake` as form
 * posts with the session's CSRF token (403 without), for users with write access (403 for a reader,
 * 404 for someone who cannot read the app); they do what the environments API does and send the
 * browser back to the app page.
 */
export function environmentActions(db: Db, auth: DashboardAuth, o: { sleep: () => SleepControl | undefined; log: Logger }): Route {
  return async (req, res, url) => {
    const m = /^\/apps\/([a-z0-9-]{1,63})\/environments\/(production|pr-\d{1,9})\/(sleep|wake)$/.exec(url.pathname);
    if (!m || req.method !== "POST") return false;
    const [, name = "", environment = "", action] = m;
    const viewer = await auth.viewer(req);
    if (!viewer) return sendProblem(res, 401, "Sign in first: open / and log in with GitHub."), true;
    if (!auth.csrfOk(viewer, await readForm(req))) {
      sendProblem(res, 403, "This form was not sent from berth's own page (CSRF token missing or wrong). Reload the page and press the button again.");
      return true;
    }
    const app = await findAppByName(db, name);
    let access;
    try {
      access = app ? await auth.access(viewer, app) : "none";
    } catch (e) {
      if (!(e instanceof SessionEnded)) throw e;
      return sendProblem(res, 401, "Your GitHub sign-in expired: log in again."), true;
    }
    if (!app || !allows(access, "read")) return sendProblem(res, 404, "No such app, or none you can read."), true;
    if (!allows(access, "write")) return sendProblem(res, 403, `Sleep and wake need write access to ${app.repo_full_name}; your GitHub account can only read it.`), true;
    const control = o.sleep();
    if (!control) return sendProblem(res, 409, "This berth process does not run the releaser role, which wakes environments and puts them to sleep."), true;
    if (action === "sleep") {
      await control.sleepEnvironment(app.id, environment);
    } else {
      try {
        const outcome = await control.wakeEnvironment(app.id, environment);
        if (outcome === "unknown") return sendProblem(res, 404, `${publicName(app)} has no live environment ${environment} to wake.`), true;
      } catch (e) {
        return sendProblem(res, 503, `The environment did not wake: ${(e as Error).message}`, { "retry-after": "5" }), true;
      }
    }
    o.log.info({ app: publicName(app), environment, by: viewer.login, action }, "dashboard action");
    res.writeHead(303, { location: `/apps/${publicName(app)}`, "cache-control": "no-store" }).end();
    return true;
  };
}
