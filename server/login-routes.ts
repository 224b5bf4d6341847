import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { cookieValue, newSessionId, sameString, sealToken, sessionIdHash } from "../core/session-token.js";
import { Sensitive } from "../core/sensitive.js";
import type { Db } from "../store/db.js";
import { createSession } from "../store/session-store.js";
import { GitHubUserError } from "../github/user-client.js";
import { localPath, type DashboardAuth } from "./dashboard-auth.js";
import { readForm, type Route } from "./respond.js";
import { sendPage } from "./html-page.js";

const STATE_COOKIE = "berth_oauth";
const LOGIN_CSRF_COOKIE = "berth_login_csrf";

/** An HTML answer that says what went wrong and how to go on. */
export function sendProblem(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  sendPage(res, status, "problem.html", { status, message });
}

/**
 * Signing in and out. `GET /login` starts GitHub's OAuth web flow with the App's client id and a
 * random `state` kept in a short-lived cookie; `GET /login/callback` checks the state, trades the code
 * for the user's token (in a POST body), asks GitHub who they are, and opens a session: a random id in
 * an HttpOnly cookie, its hash and the sealed token in Postgres. `POST /session` signs in with
 * BERTH_API_TOKEN typed into a form (double-submit CSRF token: the form and a cookie must agree).
 * `POST /logout` needs the session's CSRF token. No credential ever travels in a URL.
 */
export function loginRoutes(db: Db, auth: DashboardAuth, o: { publicUrl: string; apiToken: Sensitive | undefined }): Route {
  const callback = `${o.publicUrl}/login/callback`;
  return async (req, res, url) => {
    const path = url.pathname;
    if (path === "/login" && req.method === "GET") {
      const users = auth.o.users;
      if (!users) {
        sendProblem(res, 503, "Log in with GitHub is not set up: give berth the App's GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (App settings → Client secrets) and restart it. The operator can sign in with BERTH_API_TOKEN on the front page.");
        return true;
      }
      const state = randomBytes(16).toString("hex");
      const next = localPath(url.searchParams.get("next"));
      res.writeHead(302, {
        location: users.authorizeUrl(callback, state),
        "set-cookie": auth.cookie(STATE_COOKIE, `${state}.${Buffer.from(next).toString("base64url")}`, 600, "/login"),
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
      });
      res.end();
      return true;
    }
    if (path === "/login/callback" && req.method === "GET") {
      const users = auth.o.users;
      const [state = "", nextB64 = ""] = (cookieValue(req.headers.cookie, STATE_COOKIE) ?? "").split(".");
      const clear = auth.cookie(STATE_COOKIE, "", 0, "/login");
      if (!users || state.length !== 32 || !sameString(url.searchParams.get("state"), state)) {
        sendProblem(res, 403, "This sign-in was not started here, or took longer than ten minutes (state mismatch). Start again at /login.", { "set-cookie": clear });
        return true;
      }
      const code = url.searchParams.get("code") ?? "";
      if (!/^[\w-]{1,100}$/.test(code)) {
        sendProblem(res, 400, `GitHub did not sign you in (${(url.searchParams.get("error") ?? "no code").slice(0, 60)}). Start again at /login.`, { "set-cookie": clear });
        return true;
      }
      let token: Sensitive;
      let user: { login: string; id: string };
      try {
        token = new Sensitive(await users.exchange(code, callback));
        user = await users.user(token);
      } catch (e) {
        if (!(e instanceof GitHubUserError)) throw e;
        auth.o.log.warn({ err: e }, "GitHub sign-in failed");
        sendProblem(res, 502, `${e.message}. Start again at /login.`, { "set-cookie": clear });
        return true;
      }
      const id = newSessionId();
      await createSession(db, { idHash: sessionIdHash(id), login: user.login, githubUserId: user.id, tokenSealed: sealToken(id, token), ttlMs: auth.o.ttlMs });
      auth.o.log.info({ login: user.login }, "signed in to the dashboard with GitHub");
      const next = localPath(Buffer.from(nextB64, "base64url").toString());
      res.writeHead(303, { location: next, "set-cookie": [clear, auth.sessionCookie(id)], "cache-control": "no-store" }).end();
      return true;
    }
    if (path === "/session" && req.method === "POST") {
      const form = await readForm(req);
      const want = cookieValue(req.headers.cookie, LOGIN_CSRF_COOKIE);
      if (!want || !sameString(form?.get("csrf"), want)) {
        sendProblem(res, 403, "This form was not sent from berth's own page (CSRF token missing or wrong). Reload / and sign in again.");
        return true;
      }
      if (!o.apiToken || !sameString(form?.get("token"), o.apiToken.unwrap())) {
        sendProblem(res, 401, "That is not this berth's API token.");
        return true;
      }
      const id = newSessionId();
      await createSession(db, { idHash: sessionIdHash(id), login: "operator (API token)", admin: true, ttlMs: auth.o.ttlMs });
      res.writeHead(303, { location: localPath(form?.get("next")), "set-cookie": auth.sessionCookie(id), "cache-control": "no-store" }).end();
      return true;
    }
    if (path === "/logout" && req.method === "POST") {
      const viewer = await auth.viewer(req);
      const form = await readForm(req);
      if (viewer && !auth.csrfOk(viewer, form)) {
        sendProblem(res, 403, "This form was not sent from berth's own page (CSRF token missing or wrong).");
        return true;
      }
      if (viewer) await auth.end(viewer);
      res.writeHead(303, { location: "/", "set-cookie": auth.clearSessionCookie(), "cache-control": "no-store" }).end();
      return true;
    }
    return false;
  };
}

/** The front page for a visitor who is not signed in: GitHub login, and the operator's token form with its CSRF cookie. */
export function sendSignIn(res: ServerResponse, auth: DashboardAuth, o: { configured: boolean; next: string }): void {
  const csrf = randomBytes(16).toString("base64url");
  res.setHeader("set-cookie", auth.cookie(LOGIN_CSRF_COOKIE, csrf, 3600, "/session"));
  sendPage(res, 200, "sign-in.html", { configured: o.configured, github: Boolean(auth.o.users), csrf, next: o.next, nextQuery: o.next === "/" ? "" : `?next=${encodeURIComponent(o.next)}` });
}
