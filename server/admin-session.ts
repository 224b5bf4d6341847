import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Sensitive } from "../core/sensitive.js";
import { sendError } from "./respond.js";

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
