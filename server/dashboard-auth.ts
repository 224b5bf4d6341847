import type { IncomingMessage, ServerResponse } from "node:http";
import { cookieValue, csrfToken, isSessionId, openToken, sameString, sessionIdHash } from "../core/session-token.js";
import type { Sensitive } from "../core/sensitive.js";
import type { Logger } from "../core/logger.js";
import type { App, Db } from "../store/db.js";
import { deleteSession, findSession } from "../store/session-store.js";
import { GitHubUserError, type Access, type GitHubUserClient } from "../github/user-client.js";
import type { AccessCache } from "./access-cache.js";

/** Who is looking at a dashboard page. */
export interface Viewer {
  login: string;
  /** Signed in with BERTH_API_TOKEN: every app, every action, the servers. */
  admin: boolean;
  /** The session's CSRF token, for the forms of the page rendered for it. */
  csrf: string;
  idHash: string;
  userId?: string;
  token?: Sensitive;
}

/** The user's GitHub sign-in no longer works: the session is over, the browser signs in again. */
export class SessionEnded extends Error {}

export interface DashboardAuthOptions {
  users: GitHubUserClient | undefined;
  cache: AccessCache;
  /** Cookies get Secure (and the __Host- prefix) when berth is served over HTTPS. */
  secure: boolean;
  ttlMs: number;
  log: Logger;
  /** The account that owns berth's GitHub App (github/app-owner.ts): its admins manage servers. */
  adminAccounts?: () => Promise<string[]>;
}

/** Permission lookups for one page at once: 50 apps cost 50 requests to GitHub, 8 in flight. */
const LOOKUPS_IN_FLIGHT = 8;

/**
 * Dashboard sessions and what they may see and do. Authorization follows GitHub: read on an app's
 * repository shows the app, write (push) allows its actions, admin sessions (BERTH_API_TOKEN) allow
 * everything. Looked up with the user's own token and cached briefly (AccessCache).
 */
export class DashboardAuth {
  constructor(
    private readonly db: Db,
    readonly o: DashboardAuthOptions,
  ) {}

  get cookieName(): string {
    return this.o.secure ? "__Host-berth_session" : "berth_session";
  }

  /** A Set-Cookie value: HttpOnly, SameSite=Lax (the OAuth redirect back from GitHub is a cross-site GET), Secure under HTTPS. */
  cookie(name: string, value: string, maxAgeSeconds: number, path = "/"): string {
    return `${name}=${value}; Path=${path}; HttpOnly; SameSite=Lax${this.o.secure ? "; Secure" : ""}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
  }

  sessionCookie(id: string): string {
    return this.cookie(this.cookieName, id, this.o.ttlMs / 1000);
  }

  clearSessionCookie(): string {
    return this.cookie(this.cookieName, "", 0);
  }

  /** The signed-in viewer of a request, or undefined. */
  async viewer(req: IncomingMessage): Promise<Viewer | undefined> {
    const id = cookieValue(req.headers.cookie, this.cookieName);
    if (!isSessionId(id)) return undefined;
    const idHash = sessionIdHash(id);
    const s = await findSession(this.db, idHash);
    if (!s) return undefined;
    const token = s.token_sealed ? openToken(id, s.token_sealed) : undefined;
    if (!s.admin && !token) return undefined;
    return { login: s.login, admin: s.admin, csrf: csrfToken(id), idHash, userId: s.github_user_id ?? undefined, token };
  }

  /** Whether a submitted form carries the session's CSRF token. */
  csrfOk(viewer: Viewer, form: URLSearchParams | undefined): boolean {
    return sameString(form?.get("csrf"), viewer.csrf);
  }

  async end(viewer: Viewer): Promise<void> {
    await deleteSession(this.db, viewer.idHash);
    if (viewer.userId) this.o.cache.forget(viewer.userId);
  }

  /** The viewer's access to an app; throws SessionEnded when GitHub no longer accepts their token. */
  async access(viewer: Viewer, app: Pick<App, "repo_full_name">): Promise<Access> {
    if (viewer.admin) return "admin";
    const { users } = this.o;
    if (!users || !viewer.token || !viewer.userId) return "none";
    const token = viewer.token;
    try {
      return await this.o.cache.get(viewer.userId, app.repo_full_name, () => users.access(token, app.repo_full_name), viewer.idHash);
    } catch (e) {
      if (e instanceof GitHubUserError && e.status === 401) {
        await this.end(viewer);
        throw new SessionEnded("GitHub no longer accepts this sign-in");
      }
      // GitHub down or slow: the app is hidden this time, and asked about again on the next view.
      this.o.log.warn({ err: e, login: viewer.login, repo: app.repo_full_name }, "could not look up a permission on GitHub");
      return "none";
    }
  }

  /**
   * Whether the viewer manages servers: the operator session, or a GitHub user who is the account that
   * owns berth's GitHub App (a user account) or an admin of it (an organization).
   */
  async installationAdmin(viewer: Viewer): Promise<boolean> {
    if (viewer.admin) return true;
    const accounts = (await this.o.adminAccounts?.()) ?? [];
    const { users } = this.o;
    if (!users || !viewer.token || !viewer.userId) return false;
    const token = viewer.token;
    for (const account of accounts) {
      if (account.toLowerCase() === viewer.login.toLowerCase()) return true;
      try {
        const role = await this.o.cache.get(viewer.userId, `org:${account}`, async () => ((await users.orgRole(token, account)) === "admin" ? "admin" : "none"), viewer.idHash);
        if (role === "admin") return true;
      } catch (e) {
        if (e instanceof GitHubUserError && e.status === 401) {
          await this.end(viewer);
          throw new SessionEnded("GitHub no longer accepts this sign-in");
        }
        this.o.log.warn({ err: e, login: viewer.login, account }, "could not look up an organization role on GitHub");
      }
    }
    return false;
  }

  /** Each app's access for the viewer, looked up a few at a time. */
  async accessAll<T extends Pick<App, "id" | "repo_full_name">>(viewer: Viewer, apps: T[]): Promise<Map<number, Access>> {
    const out = new Map<number, Access>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < apps.length) {
        const app = apps[next++]!;
        out.set(app.id, await this.access(viewer, app));
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOOKUPS_IN_FLIGHT, apps.length) }, worker));
    return out;
  }
}

/** Sends the browser to sign in (a page) or answers 401 (a form post, or a stream a script reads). */
export function askToSignIn(req: IncomingMessage, res: ServerResponse, url: URL): void {
  if (req.method === "GET" && !/\/(events|stream)$/.test(url.pathname)) {
    const next = url.pathname + url.search;
    res.writeHead(303, { location: `/?next=${encodeURIComponent(next.slice(0, 512))}`, "cache-control": "no-store" }).end();
    return;
  }
  res.writeHead(401, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end("Sign in first: open / and log in with GitHub.\n");
}

/** A `next` path to return to after signing in: a local path only, never another site. */
export function localPath(raw: string | null | undefined): string {
  return raw && /^\/(?![/\\])[\x21-\x7e]{0,511}$/.test(raw) ? raw : "/";
}
