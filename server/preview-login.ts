import type { ServerResponse } from "node:http";
import { newSessionId, sealToken, sessionIdHash } from "../core/session-token.js";
import { allows } from "../github/user-client.js";
import type { Db } from "../store/db.js";
import { hostAccesses } from "../store/preview-access-store.js";
import { createTicket } from "../store/preview-grant-store.js";
import { SessionEnded, type DashboardAuth } from "./dashboard-auth.js";
import { sendProblem } from "./login-routes.js";
import { PREVIEW_CALLBACK_PATH, previewNext } from "./preview-gate.js";
import type { Route } from "./respond.js";

/** How long a login ticket may take from berth's host to the preview's. */
const TICKET_TTL_MS = 60_000;
const HOSTNAME = /^[a-z0-9.-]{1,253}$/;

/**
 * `GET /preview-login?host=&next=` on berth's own host: where a protected preview sends a browser
 * without its cookie. The dashboard's login (GitHub) comes first; then, for a user who can read the
 * repository, a single-use ticket bound to that hostname, valid for a minute, is handed to the
 * preview's host (`/.berth/login?ticket=`), which trades it for its own cookie. berth's session
 * cookie never leaves berth's host; the ticket carries no credential past its one use.
 */
export function previewLoginRoutes(db: Db, auth: DashboardAuth, originOf: (hostname: string) => string): Route {
  return async (req, res, url) => {
    if (url.pathname !== "/preview-login" || req.method !== "GET") return false;
    const hostname = (url.searchParams.get("host") ?? "").toLowerCase();
    const next = previewNext(url.searchParams.get("next"));
    const host = HOSTNAME.test(hostname) ? (await hostAccesses(db, { hostname }))[0] : undefined;
    // Only protected hosts: a public one needs no login, and redirecting to any app host from berth's
    // own origin would lend berth's address to a link into a fork's preview.
    if (!host || host.access !== "github") return void sendProblem(res, 404, "berth serves no protected preview at that address (any more)."), true;
    const viewer = await auth.viewer(req);
    const self = (url.pathname + url.search).slice(0, 512);
    const signIn = `${auth.o.users ? "/login" : "/"}?next=${encodeURIComponent(self)}`;
    if (!viewer) return void redirect(res, signIn), true;
    let access;
    try {
      access = await auth.access(viewer, { repo_full_name: host.repoFullName });
    } catch (e) {
      if (e instanceof SessionEnded) return void redirect(res, signIn, auth.clearSessionCookie()), true;
      throw e;
    }
    if (!allows(access, "read")) {
      sendProblem(res, 403, `${viewer.login} cannot read ${host.repoFullName} on GitHub, so berth does not show its preview. Ask for access to the repository, or sign out and in as another user.`);
      return true;
    }
    const ticket = newSessionId();
    const made = await createTicket(db, {
      idHash: sessionIdHash(ticket),
      hostname: host.hostname,
      login: viewer.login,
      githubUserId: viewer.userId,
      admin: viewer.admin,
      tokenSealed: viewer.token ? sealToken(ticket, viewer.token) : undefined,
      next,
      ttlMs: TICKET_TTL_MS,
    });
    if (!made) return void sendProblem(res, 503, "Too many preview logins are under way; try again in a minute.", { "retry-after": "60" }), true;
    redirect(res, `${originOf(host.hostname)}${PREVIEW_CALLBACK_PATH}?ticket=${ticket}`);
    return true;
  };
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(303, { location, "cache-control": "no-store", "referrer-policy": "no-referrer", ...(cookie ? { "set-cookie": cookie } : {}) }).end();
}
