import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { Sensitive } from "./sensitive.js";

/** A new session id: 32 random bytes, URL-safe; it lives only in the browser's cookie. */
export function newSessionId(): string {
  return randomBytes(32).toString("base64url");
}

/** Whether a cookie value has the shape of a session id (bounded before it is hashed or looked up). */
export function isSessionId(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
}

/** What Postgres keeps instead of the id: a table dump opens no session. */
export function sessionIdHash(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}

/**
 * The session's CSRF token: derived from its id, so nothing more is stored, and readable by the
 * page only because the page is rendered for that session (the id itself stays in an HttpOnly cookie).
 */
export function csrfToken(id: string): string {
  return createHmac("sha256", id).update("berth csrf").digest("base64url");
}

/** Constant-time equality of two strings. */
export function sameString(given: string | null | undefined, want: string): boolean {
  const a = Buffer.from(given ?? "");
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

const keyOf = (id: string): Buffer => Buffer.from(hkdfSync("sha256", id, "berth session", "github user token", 32));

/** Seals the user's GitHub token under a key only the session id (the cookie) yields. */
export function sealToken(id: string, token: Sensitive): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(id), iv);
  const body = Buffer.concat([cipher.update(token.unwrap(), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

/** The token sealToken put away; undefined when the id does not open it. */
export function openToken(id: string, sealed: string): Sensitive | undefined {
  try {
    const raw = Buffer.from(sealed, "base64");
    const decipher = createDecipheriv("aes-256-gcm", keyOf(id), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return new Sensitive(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** One cookie's value from a Cookie header; undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").slice(0, 8192).split(/;\s*/)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq) === name) return part.slice(eq + 1);
  }
  return undefined;
}
