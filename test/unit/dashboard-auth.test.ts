import { describe, expect, it } from "vitest";
import { cookieValue, csrfToken, isSessionId, newSessionId, openToken, sameString, sealToken, sessionIdHash } from "../../core/session-token.js";
import { Sensitive } from "../../core/sensitive.js";
import { accessOf, allows } from "../../github/user-client.js";
import { AccessCache } from "../../server/access-cache.js";
import { DashboardAuth, localPath } from "../../server/dashboard-auth.js";
import type { Db } from "../../store/db.js";
import type { Logger } from "../../core/logger.js";
import { ago, took } from "../../core/templates.js";
import type { Clock } from "../../core/clock.js";

describe("session tokens", () => {
  it("are 43 URL-safe characters, stored only as a hash, with a CSRF token derived from them", () => {
    const id = newSessionId();
    expect(isSessionId(id)).toBe(true);
    expect(isSessionId(`${id}x`)).toBe(false);
    expect(isSessionId("a;b")).toBe(false);
    expect(sessionIdHash(id)).toMatch(/^[0-9a-f]{64}$/);
    expect(sessionIdHash(id)).not.toContain(id);
    expect(csrfToken(id)).toBe(csrfToken(id));
    expect(csrfToken(id)).not.toBe(csrfToken(newSessionId()));
  });

  it("seal the user's GitHub token so that only the session id opens it", () => {
    const id = newSessionId();
    const sealed = sealToken(id, new Sensitive("gho_secret"));
    expect(sealed).not.toContain("gho_secret");
    expect(openToken(id, sealed)?.unwrap()).toBe("gho_secret");
    expect(openToken(newSessionId(), sealed)).toBeUndefined();
    expect(openToken(id, "garbage")).toBeUndefined();
  });

  it("read one cookie from a header and compare strings in constant time", () => {
    expect(cookieValue("a=1; berth_session=xyz; b=2", "berth_session")).toBe("xyz");
    expect(cookieValue("xberth_session=1", "berth_session")).toBeUndefined();
    expect(cookieValue(undefined, "a")).toBeUndefined();
    expect(sameString("abc", "abc")).toBe(true);
    expect(sameString("abd", "abc")).toBe(false);
    expect(sameString(null, "abc")).toBe(false);
  });
});

describe("access from GitHub's permissions", () => {
  it("maps a repository's permissions to none, read, write or admin", () => {
    expect(accessOf({ admin: true, push: true, pull: true })).toBe("admin");
    expect(accessOf({ admin: false, maintain: true, push: false, pull: true })).toBe("write");
    expect(accessOf({ push: true, pull: true })).toBe("write");
    expect(accessOf({ triage: true, pull: true })).toBe("read");
    expect(accessOf(undefined)).toBe("none");
    expect(allows("write", "read")).toBe(true);
    expect(allows("read", "write")).toBe(false);
    expect(allows("none", "read")).toBe(false);
  });
});

describe("AccessCache", () => {
  const clock = (): Clock & { t: number } => {
    const c = { t: 0, now: () => c.t, sleep: async () => undefined, timeout: () => new AbortController().signal };
    return c;
  };

  it("asks GitHub once per user and repository within the TTL, and again after it", async () => {
    const c = clock();
    const cache = new AccessCache({ ttlMs: 60_000, clock: c });
    let asked = 0;
    const load = async () => (asked++, "write" as const);
    await Promise.all([cache.get("1", "o/r", load), cache.get("1", "o/r", load)]);
    expect(asked).toBe(1);
    c.t = 59_000;
    await cache.get("1", "O/R", load);
    expect(asked).toBe(1);
    c.t = 61_000;
    await cache.get("1", "o/r", load);
    expect(asked).toBe(2);
    await cache.get("2", "o/r", load);
    expect(asked).toBe(3);
  });

  it("stays within its size, dropping the oldest entries, and forgets a user who signed out", async () => {
    const cache = new AccessCache({ maxEntries: 3, clock: clock() });
    for (const r of ["a", "b", "c", "d"]) await cache.get("1", `o/${r}`, async () => "read");
    expect(cache.size).toBe(3);
    let asked = 0;
    await cache.get("1", "o/a", async () => (asked++, "read"));
    expect(asked).toBe(1);
    cache.forget("1");
    expect(cache.size).toBe(0);
  });

  it("never fails one credential's lookup with another's in flight for the same user", async () => {
    const cache = new AccessCache({ clock: clock() });
    const expired = cache.get("1", "o/r", async () => Promise.reject(new Error("401 for the API token")), "api-token:7");
    const session = cache.get("1", "o/r", async () => "write", "session-hash");
    await expect(expired).rejects.toThrow("401");
    expect(await session).toBe("write");
  });

  it("does not keep a failed lookup", async () => {
    const cache = new AccessCache({ clock: clock() });
    await expect(cache.get("1", "o/r", async () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await cache.get("1", "o/r", async () => "read")).toBe("read");
  });
});

describe("session cookies", () => {
  const auth = (secure: boolean) => new DashboardAuth({} as Db, { users: undefined, cache: new AccessCache(), secure, ttlMs: 8 * 3600_000, log: {} as Logger });

  it("are HttpOnly and SameSite=Lax, and Secure with the __Host- prefix under HTTPS", () => {
    expect(auth(false).sessionCookie("abc")).toBe("berth_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=28800");
    expect(auth(true).sessionCookie("abc")).toBe("__Host-berth_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=28800");
    expect(auth(true).clearSessionCookie()).toBe("__Host-berth_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0");
  });
});

describe("dashboard helpers", () => {
  it("return to local paths only after signing in", () => {
    expect(localPath("/apps/shop")).toBe("/apps/shop");
    expect(localPath("//evil.example")).toBe("/");
    expect(localPath("/\\evil.example")).toBe("/");
    expect(localPath("https://evil.example")).toBe("/");
    expect(localPath("/a b")).toBe("/");
    expect(localPath(null)).toBe("/");
  });

  it("say how long something took and how long ago", () => {
    expect(took(new Date(0), new Date(350))).toBe("350ms");
    expect(took(new Date(0), new Date(64_000))).toBe("1m 04s");
    expect(took(new Date(0), new Date(7_500_000))).toBe("2h 05m");
    expect(took(new Date(0), undefined)).toBe("");
    expect(ago(new Date(0), 5 * 60_000)).toBe("5m ago");
    expect(ago(new Date(0), 3 * 86_400_000)).toBe("3d ago");
  });
});

describe("page policy", () => {
  it("allows a page's own inline scripts by hash and nothing else", async () => {
    const { pagePolicy } = await import("../../server/html-page.js");
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256").update("run()").digest("base64");
    expect(pagePolicy("<p>hi</p><script>run()</script>")).toBe(
      `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    );
    expect(pagePolicy("<p>no script</p>")).toContain("script-src 'none';");
  });
});
