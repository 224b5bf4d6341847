import { clientAddress, perClientLimit } from "./client-address.js";
import { Sensitive } from "../core/sensitive.js";
import type { Logger } from "../core/logger.js";
import { GitHubUserError, type GitHubUserClient } from "../github/user-client.js";
import type { Db } from "../store/db.js";
import { MAX_TOKENS_PER_USER, deleteApiToken, listApiTokens } from "../store/api-token-store.js";
import type { ApiAuth } from "./api-auth.js";
import type { ApiRoute } from "./api-router.js";
import { ID_PARAM, TOKEN, empty, err, int, json, list, obj, str } from "./api-schemas.js";
import { sendError, sendJson } from "./respond.js";

export const TOKEN_NAME = { type: "string", pattern: "^[\\x20-\\x7e]{1,60}$", description: "what the token is for (printable, at most 60 characters)" } as const;
const NEW_TOKEN = obj({ id: int, name: str, token: { type: "string", description: "shown this once; berth keeps only its hash" } });
// The router refuses the admin token on these routes already; the checks below narrow the type.
const ADMIN_HAS_NONE = "The admin token belongs to no GitHub user and has no tokens of its own.";
const tooMany = `You hold ${MAX_TOKENS_PER_USER} API tokens, the most allowed: revoke one first (DELETE /api/v1/tokens/{id} or the dashboard's Tokens page).`;

/**
 * A user's own API tokens (`/api/v1/tokens`, called with one of them) and the device login that issues
 * one to the CLI: `POST /api/v1/login/device` starts GitHub's device flow with the App's client id (on
 * GHE_HOST when set), `POST /api/v1/login/device/token` polls it and, once the user entered the code,
 * trades their GitHub token for a berth token that carries their GitHub permissions.
 */
export function tokenRoutes(db: Db, auth: ApiAuth, users: GitHubUserClient | undefined, log: Logger): ApiRoute[] {
  // Each call costs a request to GitHub. A CLI polls every 5 s (12 a minute), so one address (an office
  // behind one NAT) may run ten logins at once; a start is rare.
  const allowStart = perClientLimit(30, 300);
  const allowPoll = perClientLimit(120, 1200);
  const noOAuth = "Device login is not set up: give berth the App's GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET and enable Device Flow in the App's settings.";
  return [
    {
      method: "GET", path: "/api/v1/tokens", auth: "user", summary: "The caller's own API tokens",
      responses: { 200: json("name, created and last used of each", list(TOKEN)) },
      handle: async ({ res, caller }) => {
        if (caller.admin) return sendError(res, 403, ADMIN_HAS_NONE);
        const rows = await listApiTokens(db, caller.userId);
        sendJson(res, 200, rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.created_at, lastUsedAt: t.last_used_at })));
      },
    },
    {
      method: "POST", path: "/api/v1/tokens", auth: "user", summary: "Create another token for the caller (shown once)",
      body: { schema: { type: "object", properties: { name: TOKEN_NAME }, required: ["name"], additionalProperties: false }, maxBytes: 1024, example: { name: "laptop CLI" } },
      responses: { 201: json("the new token", NEW_TOKEN), 409: err("too many tokens") },
      handle: async ({ res, caller, body }) => {
        if (caller.admin || !caller.viewer.token) return sendError(res, 403, ADMIN_HAS_NONE);
        const name = (body as { name: string }).name;
        const issued = await auth.issue({ login: caller.login, id: caller.userId }, caller.viewer.token, name);
        if (!issued) return sendError(res, 409, tooMany);
        sendJson(res, 201, { id: issued.id, name, token: issued.token });
      },
    },
    {
      method: "DELETE", path: "/api/v1/tokens/{id}", auth: "user", summary: "Revoke one of the caller's tokens", params: { id: ID_PARAM },
      responses: { 204: empty("revoked"), 404: err("no such token of the caller's") },
      handle: async ({ res, caller, params }) => {
        if (caller.admin) return sendError(res, 403, ADMIN_HAS_NONE);
        if (await deleteApiToken(db, caller.userId, Number(params.id))) res.writeHead(204).end();
        else sendError(res, 404, `You have no API token ${params.id}; GET /api/v1/tokens lists yours.`);
      },
    },
    {
      method: "POST", path: "/api/v1/login/device", auth: "public", summary: "Start a GitHub device login (the CLI's berth login --github)",
      responses: { 200: json("the code to enter on GitHub", obj({ deviceCode: str, userCode: str, verificationUri: str, interval: int, expiresIn: int })), 429: err("too many logins started"), 502: err("GitHub refused"), 503: err("not set up") },
      handle: async ({ req, res }) => {
        if (!users) return sendError(res, 503, noOAuth);
        if (!allowStart(clientAddress(req))) return sendError(res, 429, "Too many device logins in the last minute; try again shortly.");
        try {
          sendJson(res, 200, await users.deviceCode());
        } catch (e) {
          if (!(e instanceof GitHubUserError)) throw e;
          sendError(res, 502, e.message);
        }
      },
    },
    {
      method: "POST", path: "/api/v1/login/device/token", auth: "public", summary: "Poll a device login; once entered, a berth API token for that GitHub user",
      body: { schema: { type: "object", properties: { deviceCode: { type: "string", pattern: "^[\\w-]{1,100}$" }, name: TOKEN_NAME }, required: ["deviceCode"], additionalProperties: false }, maxBytes: 1024, example: { deviceCode: "3584d83530557fdd1f46af8289938c8ef79f9dc5", name: "laptop CLI" } },
      responses: {
        201: json("the user entered the code: their new token", obj({ ...NEW_TOKEN.properties, login: str })),
        202: json("not entered yet: poll again after interval seconds", obj({ pending: { type: "boolean" }, slowDown: { type: "boolean" } })),
        403: err("the user refused, or the code expired"),
        409: err("too many tokens"),
        429: err("too many polls"),
        502: err("GitHub refused"),
        503: err("not set up"),
      },
      handle: async ({ req, res, body }) => {
        if (!users) return sendError(res, 503, noOAuth);
        if (!allowPoll(clientAddress(req))) return sendError(res, 429, "Too many device logins in the last minute; try again shortly.");
        const b = body as { deviceCode: string; name?: string };
        try {
          const answer = await users.deviceToken(b.deviceCode);
          if ("error" in answer) {
            if (answer.error === "authorization_pending" || answer.error === "slow_down") return sendJson(res, 202, { pending: true, slowDown: answer.error === "slow_down" });
            return sendError(res, 403, `GitHub did not log you in (${answer.error}); run berth login --github again.`);
          }
          const token = new Sensitive(answer.token);
          const user = await users.user(token);
          const issued = await auth.issue(user, token, b.name ?? "berth login", answer.refreshToken ? new Sensitive(answer.refreshToken) : undefined);
          if (!issued) return sendError(res, 409, tooMany);
          log.info({ login: user.login, tokenId: issued.id }, "API token issued through a device login");
          sendJson(res, 201, { id: issued.id, name: b.name ?? "berth login", token: issued.token, login: user.login });
        } catch (e) {
          if (!(e instanceof GitHubUserError)) throw e;
          sendError(res, 502, e.message);
        }
      },
    },
  ];
}
