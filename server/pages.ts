import type { Db } from "../core/db.js";
import { render } from "../core/templates.js";
import { getDeployment, listApps, listDeployments, readBuildLog } from "../core/store.js";
import { sendHtml, sendText, type Route } from "./respond.js";

const RUNNING = new Set(["queued", "building", "releasing"]);

/** Server-rendered pages: the app list and each deployment with its build log. */
export function pageRoutes(db: Db, opts: { configured: boolean }): Route {
  return async (req, res, url) => {
    if (req.method !== "GET") return false;
    if (url.pathname === "/") {
      const apps = await Promise.all(
        (await listApps(db)).map(async (a) => ({ ...a, latest: (await listDeployments(db, a.id, 1))[0] })),
      );
      sendHtml(res, 200, render("index.html", { apps, configured: opts.configured, root: "" }));
      return true;
    }
    const m = /^\/deployments\/(\d+)(\/log)?$/.exec(url.pathname);
    if (!m) return false;
    const found = await getDeployment(db, Number(m[1]));
    if (!found) {
      sendText(res, 404, "No such deployment.\n");
      return true;
    }
    const log = await readBuildLog(db, found.deployment.id);
    if (m[2]) sendText(res, 200, log);
    else sendHtml(res, 200, render("deployment.html", { ...found, log, running: RUNNING.has(found.deployment.state), root: "" }));
    return true;
  };
}
