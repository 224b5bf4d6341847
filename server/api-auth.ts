import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { openToken, sealToken } from "../core/session-token.js";
import { Sensitive } from "../core/sensitive.js";
import { GitHubUserError, type Access, type UserGrant } from "../github/user-client.js";
import type { App, Db } from "../store/db.js";
import { findApiToken, insertApiToken, resealApiToken, touchApiToken } from "../store/api-token-store.js";
import { bearerMatches } from "./admin-session.js";
import { SessionEnded, type DashboardAuth, type Viewer } from "./dashboard-auth.js";

/** A per-user API token: a prefix that says what it is (secret scanners know it) and 32 random bytes. */
export const API_TOKEN = /^berth_[A-Za-z0-9_-]{43}$/;

/** A new per-user API token; shown once, never stored. */
export function newApiToken(): string {
  return `berth_${randomBytes(32).toString("base64url")}`;
}

/** What Postgres keeps of a token. */
export function apiTokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Who is calling the API: the operator (BERTH_API_TOKEN), or a GitHub user through their own token. */
export type Caller = { admin: true; login: string } | UserCaller;

/** A person calling with their own API token; the token itself is kept to reseal a renewed GitHub grant. */
export interface UserCaller {
  admin: false;
  login: string;
  userId: string;
  tokenId: number;
  viewer: Viewer;
  apiToken: Sensitive;
  refreshSealed: string | null;
}

/** Why a call is refused before any route looks at it. */
export interface Refusal {
  status: 401 | 403;
  error: string;
}

/**
 * Authentication and authorization of API calls. The admin token allows everything; a user's token
 * allows what GitHub allows that user (read shows an app, write acts on it, an installation admin
 * manages servers), re-checked through the user's GitHub token, which is sealed under the API token.
 */
export class ApiAuth {
  constructor(
    private readonly db: Db,
    private readonly adminToken: Sensitive | undefined,
    /** Absent in tests that need only the admin token; the permission lookups and their cache. */
    readonly dashboard: DashboardAuth | undefined,
  ) {}

  readonly #renewals = new Map<number, Promise<Sensitive | undefined>>();

  /** The caller of a request, or why it is refused. */
  async caller(req: IncomingMessage): Promise<Caller | Refusal> {
    const header = req.headers.authorization ?? "";
    const m = /^Bearer (\S{1,200})$/.exec(header);
    if (m && API_TOKEN.test(m[1]!)) {
      const given = m[1]!;
      const hash = apiTokenHash(given);
      const row = await findApiToken(this.db, hash);
      // The row was found by its hash; comparing again in constant time keeps a timing side channel out of this code's hands.
      const github = row && timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash)) ? openToken(given, row.github_token_sealed) : undefined;
      if (!row || !github) return { status: 401, error: "This API token is unknown or was revoked; create a new one on the dashboard's Tokens page, or run berth login." };
      await touchApiToken(this.db, row.id);
      const viewer: Viewer = { login: row.login, admin: false, csrf: "", idHash: `api-token:${row.id}`, userId: String(row.github_user_id), token: github };
      return { admin: false, login: row.login, userId: String(row.github_user_id), tokenId: row.id, viewer, apiToken: new Sensitive(given), refreshSealed: row.github_refresh_sealed };
    }
    // No admin token is set: only people's own tokens open the API.
    if (!this.adminToken) return { status: 403, error: "This berth has no admin token (BERTH_API_TOKEN): send a token of your own (dashboard → Tokens, or berth login --github), or set BERTH_API_TOKEN on the server." };
    if (!bearerMatches(header, this.adminToken)) return { status: 401, error: "Send Authorization: Bearer <BERTH_API_TOKEN>." };
    return { admin: true, login: "operator (API token)" };
  }

  /** The caller's access to an app; throws SessionEnded when GitHub no longer accepts the user's token (and it cannot be renewed). */
  async access(caller: Caller, app: Pick<App, "repo_full_name">): Promise<Access> {
    if (caller.admin) return "admin";
    const dashboard = this.dashboard;
    return dashboard ? this.#renewing(caller, () => dashboard.access(caller.viewer, app)) : "none";
  }

  /** The caller's access to each app, looked up a few at a time (see DashboardAuth.accessAll). */
  async accessAll<T extends Pick<App, "id" | "repo_full_name">>(caller: Caller, apps: T[]): Promise<Map<number, Access>> {
    if (caller.admin) return new Map(apps.map((a) => [a.id, "admin"]));
    const dashboard = this.dashboard;
    return dashboard ? this.#renewing(caller, () => dashboard.accessAll(caller.viewer, apps)) : new Map();
  }

  /** Whether the caller manages servers: the operator, or an admin of the account that owns berth's GitHub App. */
  async installationAdmin(caller: Caller): Promise<boolean> {
    if (caller.admin) return true;
    const dashboard = this.dashboard;
    return dashboard ? this.#renewing(caller, () => dashboard.installationAdmin(caller.viewer)) : false;
  }

  /** Runs a lookup; when GitHub refused the user's token and the API token holds a refresh token, renews it once and runs it again. */
  async #renewing<T>(caller: UserCaller, lookup: () => Promise<T>): Promise<T> {
    try {
      return await lookup();
    } catch (e) {
      if (!(e instanceof SessionEnded) || !(await this.#renew(caller))) throw e;
      return lookup();
    }
  }

  /** Renews the GitHub grant of a token (one renewal per token at a time: GitHub's refresh tokens are single-use). */
  #renew(caller: UserCaller): Promise<boolean> {
    let pending = this.#renewals.get(caller.tokenId);
    if (!pending) {
      pending = this.#renewOnce(caller).finally(() => this.#renewals.delete(caller.tokenId));
      this.#renewals.set(caller.tokenId, pending);
    }
    return pending.then((token) => {
      if (token) caller.viewer.token = token;
      return token !== undefined;
    });
  }

  async #renewOnce(caller: UserCaller): Promise<Sensitive | undefined> {
    const users = this.dashboard?.o.users;
    const refresh = caller.refreshSealed ? openToken(caller.apiToken.unwrap(), caller.refreshSealed) : undefined;
    if (!users || !refresh) return undefined;
    let grant: UserGrant;
    try {
      grant = await users.refresh(refresh);
    } catch (e) {
      if (!(e instanceof GitHubUserError)) throw e;
      return undefined;
    }
    const key = caller.apiToken.unwrap();
    const token = new Sensitive(grant.token);
    const refreshSealed = grant.refreshToken ? sealToken(key, new Sensitive(grant.refreshToken)) : null;
    await resealApiToken(this.db, caller.tokenId, sealToken(key, token), refreshSealed);
    caller.refreshSealed = refreshSealed;
    return token;
  }

  /** Issues a token for a GitHub user, sealing their GitHub token under it; undefined when they hold the most allowed. */
  async issue(user: { login: string; id: string }, githubToken: Sensitive, name: string, refreshToken?: Sensitive): Promise<{ id: number; token: string } | undefined> {
    const token = newApiToken();
    const id = await insertApiToken(this.db, {
      tokenHash: apiTokenHash(token),
      githubUserId: user.id,
      login: user.login,
      name,
      githubTokenSealed: sealToken(token, githubToken),
      ...(refreshToken ? { githubRefreshSealed: sealToken(token, refreshToken) } : {}),
    });
    return id === undefined ? undefined : { id, token };
  }
}
