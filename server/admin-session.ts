import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Sensitive } from "../core/sensitive.js";
import { readForm, sendError } from "./respond.js";

const COOKIE = "berth_admin";

/** Constant-time equality of two strings (their lengths may differ; that alone is all it reveals). */
export function sameSecret(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The admin token from `Authorization: Bearer …`, compared in constant time. */
export function bearerMatches(header: string | undefined, token: Sensitive): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  return Boolean(m?.[1]) && sameSecret(m![1]!, token.unwrap());
}

/**
 * The REST API's gate: answers 403 while no admin token is configured and 401 without the right
 * bearer token, and returns whether the request may go on.
 */
export function apiAllowed(req: IncomingMessage, res: ServerResponse, token: Sensitive | undefined): boolean {
  if (!token) {
    sendError(res, 403, "The API is disabled: set BERTH_API_TOKEN on the berth server to enable it.");
    return false;
  }
  if (!bearerMatches(req.headers.authorization, token)) {
    res.setHeader("www-authenticate", 'Bearer realm="berth"');
    sendError(res, 401, "Send Authorization: Bearer <BERTH_API_TOKEN>.");
    return false;
  }
  return true;
}

// The cookie holds a MAC of the token, never the token: a stolen cookie does not open the API.
const sessionValue = (token: Sensitive): string => createHmac("sha256", token.unwrap()).update("berth admin session").digest("hex");

/** Whether the request carries the admin token (Bearer) or the admin session cookie. Never a URL parameter. */
export function isAdmin(req: IncomingMessage, token: Sensitive | undefined): boolean {
  if (!token) return false;
  if (bearerMatches(req.headers.authorization, token)) return true;
  const cookie = (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`));
  return cookie !== undefined && sameSecret(cookie.slice(COOKIE.length + 1), sessionValue(token));
}

/**
 * POST /session with a form field `token`: a correct admin token sets an HttpOnly, SameSite=Strict
 * session cookie and redirects to the dashboard; the token never appears in a URL or a log line.
 * POST /logout clears the cookie. Returns false for other requests.
 */
export async function handleSession(req: IncomingMessage, res: ServerResponse, url: URL, token: Sensitive | undefined, secure: boolean): Promise<boolean> {
  if (req.method !== "POST" || (url.pathname !== "/session" && url.pathname !== "/logout")) return false;
  const attrs = `Path=/; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
  if (url.pathname === "/logout") {
    res.writeHead(303, { location: "/", "set-cookie": `${COOKIE}=; ${attrs}; Max-Age=0` }).end();
    return true;
  }
  const form = await readForm(req);
  const given = form?.get("token") ?? "";
  if (!token || !sameSecret(given, token.unwrap())) {
    res.writeHead(401, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end("That is not this berth's API token.\n");
    return true;
  }
  res.writeHead(303, { location: "/", "set-cookie": `${COOKIE}=${sessionValue(token)}; ${attrs}; Max-Age=${12 * 3600}` }).end();
  return true;
}
