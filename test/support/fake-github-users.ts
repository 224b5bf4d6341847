import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

type Level = "read" | "write" | "admin";

/**
 * The people side of the fake GitHub: users, their access to repositories, and the OAuth web flow a
 * GitHub App signs users in with (/login/oauth/authorize redirecting back with code and state, POST
 * /login/oauth/access_token, GET /user, GET /repos/{owner}/{repo} with `permissions` for the user's token).
 */
export class FakeGitHubUsers {
  /** The App's OAuth client, as berth must present it (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET). */
  readonly oauthClient = { id: "Iv1.fakeclient0001", secret: "fake-client-secret-0001" };
  /** GitHub users by login, with their access per repository full name (no entry: GitHub shows them nothing). */
  readonly users = new Map<string, { id: number; access: Map<string, Level> }>();
  /** Organization roles by login: org name → admin or member (no entry: not a member). */
  readonly orgRoles = new Map<string, Map<string, "admin" | "member">>();
  /** Who is signed in to GitHub in "the browser": the user /login/oauth/authorize sends back to berth. */
  signedIn: string | undefined;
  private readonly oauthCodes = new Map<string, { login: string; redirectUri: string }>();
  private readonly userTokens = new Map<string, string>();
  /** Refresh tokens (device logins get one, as from an App whose user tokens expire) by token → login; single use. */
  private readonly refreshTokens = new Map<string, string>();
  /** Device logins by device code: the user code shown, and who entered it (null: refused; undefined: not yet). */
  readonly deviceLogins = new Map<string, { userCode: string; login?: string | null; polls: number }>();

  constructor(private readonly repositories: ReadonlyMap<string, { id: number; defaultBranch: string }>) {}

  /** Adds (or updates) a GitHub user with their access to repositories. */
  addUser(login: string, access: Record<string, Level> = {}): void {
    const user = this.users.get(login) ?? { id: 50_000 + this.users.size, access: new Map() };
    for (const [repo, level] of Object.entries(access)) user.access.set(repo, level);
    this.users.set(login, user);
  }

  /** The OAuth web flow and the user-token calls: answers true when it handled the request. */
  handle(req: IncomingMessage, url: URL, p: string, body: Record<string, any>, send: (status: number, data: unknown) => void, res: ServerResponse): boolean {
    if (url.pathname === "/login/oauth/authorize" && req.method === "GET") {
      const redirect = url.searchParams.get("redirect_uri") ?? "";
      if (url.searchParams.get("client_id") !== this.oauthClient.id) return send(404, { message: "unknown client_id" }), true;
      if (!this.signedIn) return res.writeHead(200, { "content-type": "text/html" }).end("<p>Sign in to GitHub</p>"), true;
      const code = randomUUID().replace(/-/g, "").slice(0, 20);
      this.oauthCodes.set(code, { login: this.signedIn, redirectUri: redirect });
      const back = new URL(redirect);
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      res.writeHead(302, { location: back.href }).end();
      return true;
    }
    if (url.pathname === "/login/device/code" && req.method === "POST") {
      if (body.client_id !== this.oauthClient.id) return send(404, { message: "unknown client_id" }), true;
      const deviceCode = randomUUID().replace(/-/g, "");
      const userCode = `${randomUUID().slice(0, 4)}-${randomUUID().slice(0, 4)}`.toUpperCase();
      this.deviceLogins.set(deviceCode, { userCode, polls: 0 });
      return send(200, { device_code: deviceCode, user_code: userCode, verification_uri: `http://${req.headers.host}/login/device`, expires_in: 900, interval: 1 }), true;
    }
    if (url.pathname === "/login/oauth/access_token" && req.method === "POST" && body.grant_type === "urn:ietf:params:oauth:grant-type:device_code") {
      const login = this.deviceLogins.get(String(body.device_code));
      if (body.client_id !== this.oauthClient.id) return send(200, { error: "incorrect_client_credentials" }), true;
      if (!login) return send(200, { error: "expired_token" }), true;
      login.polls++;
      if (login.login === undefined) return send(200, { error: "authorization_pending" }), true;
      this.deviceLogins.delete(String(body.device_code)); // one use, as on GitHub
      if (login.login === null) return send(200, { error: "access_denied" }), true;
      return send(200, this.grant(login.login)), true;
    }
    if (url.pathname === "/login/oauth/access_token" && req.method === "POST" && body.grant_type === "refresh_token") {
      const login = this.refreshTokens.get(String(body.refresh_token));
      this.refreshTokens.delete(String(body.refresh_token));
      if (body.client_id !== this.oauthClient.id || body.client_secret !== this.oauthClient.secret) return send(200, { error: "incorrect_client_credentials" }), true;
      if (!login) return send(200, { error: "bad_refresh_token" }), true;
      this.refreshes++;
      return send(200, this.grant(login)), true;
    }
    if (url.pathname === "/login/oauth/access_token" && req.method === "POST") {
      const grant = this.oauthCodes.get(String(body.code));
      this.oauthCodes.delete(String(body.code)); // one use, as on GitHub
      if (body.client_id !== this.oauthClient.id || body.client_secret !== this.oauthClient.secret) return send(200, { error: "incorrect_client_credentials" }), true;
      if (!grant || grant.redirectUri !== body.redirect_uri) return send(200, { error: "bad_verification_code" }), true;
      const token = `gho_fake_${randomUUID().replace(/-/g, "")}`;
      this.userTokens.set(token, grant.login);
      return send(200, { access_token: token, token_type: "bearer", scope: "" }), true;
    }
    const bearer = /^(?:token|bearer) (gho_fake_\w+)$/i.exec(req.headers.authorization ?? "");
    if (!bearer) return false;
    const login = this.userTokens.get(bearer[1]!);
    const user = login ? this.users.get(login) : undefined;
    if (!login || !user) return send(401, { message: "Bad credentials" }), true;
    if (p === "/user") return send(200, { login, id: user.id, type: "User" }), true;
    const membership = /^\/user\/memberships\/orgs\/([^/]+)$/.exec(p);
    if (membership) {
      const role = this.orgRoles.get(login)?.get(decodeURIComponent(membership[1]!));
      return role ? send(200, { state: "active", role, organization: { login: membership[1] } }) : send(404, { message: "Not Found" }), true;
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)$/.exec(p);
    const fullName = m ? `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}` : "";
    const level = user.access.get(fullName);
    const repo = this.repositories.get(fullName);
    if (!m || req.method !== "GET" || !level || !repo) return send(404, { message: "Not Found" }), true;
    const permissions = { admin: level === "admin", maintain: level === "admin", push: level !== "read", triage: true, pull: true };
    return send(200, { id: repo.id, name: m[2], full_name: fullName, default_branch: repo.defaultBranch, private: true, permissions }), true;
  }

  /** A user types a device login's code at /login/device (login null: they press Cancel); whether the code was known. */
  enterDeviceCode(userCode: string, login: string | null): boolean {
    for (const d of this.deviceLogins.values()) if (d.userCode === userCode) return (d.login = login), true;
    return false;
  }

  /** Refresh-token grants answered so far. */
  refreshes = 0;

  private grant(login: string): Record<string, unknown> {
    const token = `gho_fake_${randomUUID().replace(/-/g, "")}`;
    const refresh = `ghr_fake_${randomUUID().replace(/-/g, "")}`;
    this.userTokens.set(token, login);
    this.refreshTokens.set(refresh, login);
    return { access_token: token, expires_in: 28_800, refresh_token: refresh, refresh_token_expires_in: 15_897_600, token_type: "bearer", scope: "" };
  }

  /** Revokes every token of a user, as when they revoke the App's authorization. */
  revokeTokens(login: string): void {
    for (const [token, who] of this.userTokens) if (who === login) this.userTokens.delete(token);
    for (const [token, who] of this.refreshTokens) if (who === login) this.refreshTokens.delete(token);
  }

  /** Expires a user's access tokens (8 hours on, for an App whose user tokens expire); their refresh tokens still work. */
  expireTokens(login: string): void {
    for (const [token, who] of this.userTokens) if (who === login) this.userTokens.delete(token);
  }

}
