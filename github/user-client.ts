import type { Sensitive } from "../core/sensitive.js";

/** What a signed-in user may do with an app, as GitHub says of its repository. */
export type Access = "none" | "read" | "write" | "admin";

const RANK: Record<Access, number> = { none: 0, read: 1, write: 2, admin: 3 };

/** Whether `has` is at least `needs`. */
export function allows(has: Access, needs: Access): boolean {
  return RANK[has] >= RANK[needs];
}

/** The access a repository's `permissions` object grants (push and maintain are write). */
export function accessOf(permissions: unknown): Access {
  const p = (permissions ?? {}) as Record<string, unknown>;
  if (p.admin === true) return "admin";
  if (p.push === true || p.maintain === true) return "write";
  if (p.pull === true || p.triage === true) return "read";
  return "none";
}

export interface GitHubUser {
  login: string;
  id: string;
}

/** A device login GitHub started: the user types userCode at verificationUri; berth polls with deviceCode. */
export interface DeviceCode {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  interval: number;
  expiresIn: number;
}

/** A user token GitHub handed out, with the refresh token that renews it when the App's user tokens expire. */
export interface UserGrant {
  token: string;
  refreshToken?: string;
}

const TOKEN = /^[\w.-]{1,512}$/;
const grantOf = (b: { access_token?: unknown; refresh_token?: unknown }): UserGrant | undefined =>
  typeof b.access_token === "string" && TOKEN.test(b.access_token)
    ? { token: b.access_token, ...(typeof b.refresh_token === "string" && TOKEN.test(b.refresh_token) ? { refreshToken: b.refresh_token } : {}) }
    : undefined;

/** A GitHub that answered in an unexpected way: the page says so, the log keeps the status. */
export class GitHubUserError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

// A GitHub login; "[bot]" covers apps. Anything else in a response is not used as a login.
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/;

/**
 * The OAuth web flow and the user-token calls berth makes on behalf of a signed-in user, against the
 * configured GitHub (github.com or GHE_HOST). Every call has a deadline; bodies are read only as JSON.
 */
export class GitHubUserClient {
  constructor(
    private readonly o: { webUrl: string; apiUrl: string; clientId: string; clientSecret: Sensitive; fetch?: typeof fetch; timeoutMs?: number },
  ) {}

  /** Where the browser goes to sign in; GitHub sends it back to redirectUri with code and state. */
  authorizeUrl(redirectUri: string, state: string): string {
    const q = new URLSearchParams({ client_id: this.o.clientId, redirect_uri: redirectUri, state, allow_signup: "false" });
    return `${this.o.webUrl}/login/oauth/authorize?${q}`;
  }

  /** Trades the one-time code for the user's token (sent in a POST body, never in a URL). */
  async exchange(code: string, redirectUri: string): Promise<string> {
    const r = await this.#fetch(`${this.o.webUrl}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ client_id: this.o.clientId, client_secret: this.o.clientSecret.unwrap(), code, redirect_uri: redirectUri }),
    });
    const body = (await r.json().catch(() => ({}))) as { access_token?: unknown; error?: unknown };
    if (!r.ok || typeof body.access_token !== "string" || !/^[\w.-]{1,512}$/.test(body.access_token)) {
      throw new GitHubUserError(`GitHub did not hand out a token (${typeof body.error === "string" ? body.error.slice(0, 100) : `HTTP ${r.status}`})`, r.status);
    }
    return body.access_token;
  }

  /** Starts GitHub's device flow for the App's client id: the code the user types at verificationUri. */
  async deviceCode(): Promise<DeviceCode> {
    const r = await this.#fetch(`${this.o.webUrl}/login/device/code`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ client_id: this.o.clientId }),
    });
    const b = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    const ok = (v: unknown, re: RegExp): v is string => typeof v === "string" && re.test(v);
    if (!r.ok || !ok(b.device_code, /^[\w-]{1,100}$/) || !ok(b.user_code, /^[A-Z0-9-]{1,20}$/) || !ok(b.verification_uri, /^https?:\/\/[\x21-\x7e]{1,300}$/)) {
      throw new GitHubUserError(`GitHub did not start a device login (${typeof b.error === "string" ? b.error.slice(0, 100) : `HTTP ${r.status}`}); the App needs "Enable Device Flow" in its settings`, r.status);
    }
    const bounded = (v: unknown, min: number, max: number, d: number): number => (Number.isInteger(v) ? Math.min(max, Math.max(min, v as number)) : d);
    return { deviceCode: b.device_code, userCode: b.user_code, verificationUri: b.verification_uri, interval: bounded(b.interval, 1, 60, 5), expiresIn: bounded(b.expires_in, 1, 3600, 900) };
  }

  /** Asks once whether the user entered the device code: their token, or what GitHub says instead (authorization_pending, slow_down, expired_token, access_denied). */
  async deviceToken(deviceCode: string): Promise<UserGrant | { error: string }> {
    const r = await this.#fetch(`${this.o.webUrl}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ client_id: this.o.clientId, device_code: deviceCode, grant_type: "urn:ietf:params:oauth:grant-type:device_code" }),
    });
    const b = (await r.json().catch(() => ({}))) as { access_token?: unknown; refresh_token?: unknown; error?: unknown };
    const grant = grantOf(b);
    if (r.ok && grant) return grant;
    if (typeof b.error === "string" && /^[a-z_]{1,40}$/.test(b.error)) return { error: b.error };
    throw new GitHubUserError(`GitHub answered the device login with HTTP ${r.status}`, r.status);
  }

  /** A new user token for a refresh token (GitHub Apps whose user tokens expire, after 8 hours by default); 401 when GitHub refuses it. */
  async refresh(refreshToken: Sensitive): Promise<UserGrant> {
    const r = await this.#fetch(`${this.o.webUrl}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ client_id: this.o.clientId, client_secret: this.o.clientSecret.unwrap(), grant_type: "refresh_token", refresh_token: refreshToken.unwrap() }),
    });
    const b = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    const grant = grantOf(b);
    if (!r.ok || !grant) throw new GitHubUserError(`GitHub did not renew the sign-in (${typeof b.error === "string" ? b.error.slice(0, 100) : `HTTP ${r.status}`})`, 401);
    return grant;
  }

  async user(token: Sensitive): Promise<GitHubUser> {
    const r = await this.#api("/user", token);
    const body = (await r.json().catch(() => ({}))) as { login?: unknown; id?: unknown };
    if (!r.ok || typeof body.login !== "string" || !LOGIN.test(body.login) || !Number.isSafeInteger(body.id)) {
      throw new GitHubUserError(`GitHub did not say who signed in (HTTP ${r.status})`, r.status);
    }
    return { login: body.login, id: String(body.id) };
  }

  /** The user's access to a repository; none when GitHub does not show it to them. */
  async access(token: Sensitive, repoFullName: string): Promise<Access> {
    const [owner = "", repo = ""] = repoFullName.split("/");
    const r = await this.#api(`/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`, token);
    if (r.status === 404 || r.status === 403) return "none";
    if (r.status === 401) throw new GitHubUserError("GitHub no longer accepts this sign-in", 401);
    if (!r.ok) throw new GitHubUserError(`GitHub answered HTTP ${r.status} for ${repoFullName}`, r.status);
    const body = (await r.json().catch(() => ({}))) as { permissions?: unknown };
    return accessOf(body.permissions);
  }

  /** The user's role in an organization (admin or member); none when they are not in it or it is a user account. */
  async orgRole(token: Sensitive, org: string): Promise<"admin" | "member" | "none"> {
    const r = await this.#api(`/user/memberships/orgs/${encodeURIComponent(org)}`, token);
    if (r.status === 404 || r.status === 403) return "none";
    if (r.status === 401) throw new GitHubUserError("GitHub no longer accepts this sign-in", 401);
    if (!r.ok) throw new GitHubUserError(`GitHub answered HTTP ${r.status} for the membership in ${org}`, r.status);
    const body = (await r.json().catch(() => ({}))) as { role?: unknown; state?: unknown };
    if (body.state !== "active") return "none";
    return body.role === "admin" ? "admin" : "member";
  }

  #api(path: string, token: Sensitive): Promise<Response> {
    return this.#fetch(`${this.o.apiUrl}${path}`, { headers: { accept: "application/vnd.github+json", authorization: `Bearer ${token.unwrap()}`, "user-agent": "berth" } });
  }

  async #fetch(url: string, init: RequestInit): Promise<Response> {
    return (this.o.fetch ?? fetch)(url, { ...init, redirect: "error", signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
  }
}
