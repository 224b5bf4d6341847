import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { openToken, sealToken } from "../core/session-token.js";
import type { Sensitive } from "../core/sensitive.js";
import type { Access } from "../github/user-client.js";
import type { App, Db } from "../store/db.js";
import { findApiToken, insertApiToken, touchApiToken } from "../store/api-token-store.js";
import { installationAccounts } from "../store/dashboard-queries.js";
import { bearerMatches } from "./admin-session.js";
import type { DashboardAuth, Viewer } from "./dashboard-auth.js";

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
export type Caller = { admin: true; login: string } | { admin: false; login: string; userId: string; tokenId: number; viewer: Viewer };

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
      return { admin: false, login: row.login, userId: String(row.github_user_id), tokenId: row.id, viewer };
    }
    if (!this.adminToken) return { status: 403, error: "The API is disabled: set BERTH_API_TOKEN on the berth server to enable it." };
    if (!bearerMatches(header, this.adminToken)) return { status: 401, error: "Send Authorization: Bearer <BERTH_API_TOKEN>." };
    return { admin: true, login: "operator (API token)" };
  }

  /** The caller's access to an app; throws SessionEnded when GitHub no longer accepts the user's token. */
  async access(caller: Caller, app: Pick<App, "repo_full_name">): Promise<Access> {
    if (caller.admin) return "admin";
    return this.dashboard ? this.dashboard.access(caller.viewer, app) : "none";
  }

  /** Whether the caller manages servers: the operator, or an admin of the account that owns the installation. */
  async installationAdmin(caller: Caller): Promise<boolean> {
    if (caller.admin) return true;
    return this.dashboard ? this.dashboard.installationAdmin(caller.viewer, await installationAccounts(this.db)) : false;
  }

  /** Issues a token for a GitHub user, sealing their GitHub token under it; undefined when they hold the most allowed. */
  async issue(user: { login: string; id: string }, githubToken: Sensitive, name: string): Promise<{ id: number; token: string } | undefined> {
    const token = newApiToken();
    const id = await insertApiToken(this.db, { tokenHash: apiTokenHash(token), githubUserId: user.id, login: user.login, name, githubTokenSealed: sealToken(token, githubToken) });
    return id === undefined ? undefined : { id, token };
  }
}
