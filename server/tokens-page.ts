import type { ServerResponse } from "node:http";
import type { Db } from "../store/db.js";
import { MAX_TOKENS_PER_USER, deleteApiToken, listApiTokens } from "../store/api-token-store.js";
import type { ApiAuth } from "./api-auth.js";
import { askToSignIn, type DashboardAuth, type Viewer } from "./dashboard-auth.js";
import { sendPage } from "./html-page.js";
import { sendProblem } from "./login-routes.js";
import { readForm, type Route } from "./respond.js";

const NAME = /^[\x20-\x7e]{1,60}$/;

/**
 * The Tokens page of a user signed in with GitHub: `GET /tokens` lists their API tokens (name,
 * created, last used), `POST /tokens` creates one and shows it this once, `POST /tokens/{id}/revoke`
 * revokes one. A token carries the user's GitHub permissions, so the operator session (which has no
 * GitHub user) has none. Forms carry the session's CSRF token.
 */
export function tokensPage(db: Db, auth: DashboardAuth, api: ApiAuth): Route {
  const show = async (res: ServerResponse, viewer: Viewer, extra: { created?: { name: string; token: string }; problem?: string } = {}): Promise<void> => {
    const rows = await listApiTokens(db, viewer.userId!);
    const tokens = rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.created_at.toISOString(), lastUsedAt: t.last_used_at?.toISOString() ?? "never" }));
    res.setHeader("cache-control", "no-store");
    sendPage(res, extra.problem ? 400 : 200, "tokens.html", { viewer, tokens, max: MAX_TOKENS_PER_USER, ...extra });
  };
  return async (req, res, url) => {
    const revoke = /^\/tokens\/(\d{1,9})\/revoke$/.exec(url.pathname);
    if (url.pathname !== "/tokens" && !revoke) return false;
    if (revoke ? req.method !== "POST" : req.method !== "GET" && req.method !== "POST") return false;
    const viewer = await auth.viewer(req);
    if (!viewer) {
      askToSignIn(req, res, url);
      return true;
    }
    if (!viewer.userId || !viewer.token) {
      sendProblem(res, 403, "API tokens belong to GitHub users and carry their permissions: log in with GitHub to create one. The operator uses BERTH_API_TOKEN.");
      return true;
    }
    if (req.method === "GET") return void (await show(res, viewer)), true;
    const form = await readForm(req);
    if (!auth.csrfOk(viewer, form)) {
      sendProblem(res, 403, "This form was not sent from berth's own page (CSRF token missing or wrong). Reload the page and try again.");
      return true;
    }
    if (revoke) {
      await deleteApiToken(db, viewer.userId, Number(revoke[1]));
      res.writeHead(303, { location: "/tokens", "cache-control": "no-store" }).end();
      return true;
    }
    const name = (form?.get("name") ?? "").trim();
    if (!NAME.test(name)) return void (await show(res, viewer, { problem: "Name the token (printable characters, at most 60)." })), true;
    const issued = await api.issue({ login: viewer.login, id: viewer.userId }, viewer.token, name);
    if (!issued) return void (await show(res, viewer, { problem: `You hold ${MAX_TOKENS_PER_USER} tokens, the most allowed: revoke one first.` })), true;
    auth.o.log.info({ login: viewer.login, tokenId: issued.id }, "API token created on the dashboard");
    await show(res, viewer, { created: { name, token: issued.token } });
    return true;
  };
}
