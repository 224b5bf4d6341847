import type { IncomingMessage, ServerResponse } from "node:http";
import { systemClock, type Clock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import { cookieValue, isSessionId, newSessionId, openToken, sealToken, sessionIdHash } from "../core/session-token.js";
import { allows, GitHubUserClient, GitHubUserError } from "../github/user-client.js";
import type { Config } from "../core/config.js";
import type { Db } from "../store/db.js";
import { createPreviewSession, deletePreviewGrant, findPreviewSession, redeemTicket, type PreviewGrant } from "../store/preview-grant-store.js";
import { hostAccesses, previewTokenMatches, type HostAccess } from "../store/preview-access-store.js";
import { AccessCache } from "./access-cache.js";
import { BoundedTtl } from "./bounded-ttl.js";

/** Where the proxy asks (forward_auth, on the waker's own address) whether a protected request may pass. */
export const PREVIEW_AUTH_PATH = "/.berth/preview-auth";
/** The path on a preview's own host where a login ticket becomes that host's cookie. */
export const PREVIEW_CALLBACK_PATH = "/.berth/login";
/** The machine token's header; `Authorization: Basic` with user `berth` and the token as password works too. */
export const TOKEN_HEADER = "x-berth-preview-token";

export interface PreviewGateOptions {
  db: Db;
  /** Absent: no GitHub login (only the operator's session and machine tokens open protected hosts). */
  users: GitHubUserClient | undefined;
  cache: AccessCache;
  /** berth's own URL, where the login starts (`/preview-login`). */
  publicUrl: string;
  /** How long a preview's login cookie lasts (BERTH_SESSION_TTL). */
  sessionTtlMs: number;
  log: Logger;
  clock?: Clock;
}

const HOSTNAME = /^[a-z0-9.-]{1,253}$/;
const MAX_URI = 8192;
/** Host facts and accepted login cookies are remembered this long: a burst of asset requests asks Postgres once. */
const HOST_TTL_MS = 5_000;
const PASS_TTL_MS = 10_000;
/** Checks under way at once; more get 503 at once, so a flood of made-up cookies cannot take Postgres's pool. */
const MAX_CHECKS = 64;

/**
 * The gate in front of protected environments (access: github). The proxy asks it before every
 * request to such a hostname; 2xx lets the request on to the app, anything else is the answer. A
 * request passes with the environment's machine token, or with the hostname's own login cookie of a
 * GitHub user who can read the repository (asked of GitHub with the user's token, cached briefly).
 * A browser without either is sent to berth's host to log in; anything else gets 401.
 */
export class PreviewGate {
  readonly #hosts: BoundedTtl<HostAccess | null>;
  readonly #passes: BoundedTtl<true>;
  #checking = 0;

  constructor(private readonly o: PreviewGateOptions) {
    const clock = o.clock ?? systemClock;
    this.#hosts = new BoundedTtl(HOST_TTL_MS, 10_000, clock);
    this.#passes = new BoundedTtl(PASS_TTL_MS, 10_000, clock);
  }

  /** Answers the proxy's question about one request (headers set by the Caddyfile's forward_auth). */
  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (this.#checking >= MAX_CHECKS) return answer(res, 503, "berth is checking too many logins at once; try again shortly.\n", { "retry-after": "2" });
    this.#checking++;
    try {
      await this.#check(req, res);
    } catch (err) {
      this.o.log.warn({ err }, "could not check a request to a protected app");
      if (!res.headersSent) answer(res, 503, "berth could not check this login just now; try again shortly.\n", { "retry-after": "5" });
    } finally {
      this.#checking--;
    }
  };

  async #check(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostname = String(req.headers["x-berth-host"] ?? "").toLowerCase();
    const uri = String(req.headers["x-forwarded-uri"] ?? "/");
    if (!HOSTNAME.test(hostname) || uri.length > MAX_URI) return answer(res, 400, "Bad request.\n");
    const https = req.headers["x-berth-scheme"] === "https";
    const host = await this.#host(hostname);
    if (!host) return answer(res, 404, "No berth app is served at this host.\n");
    if (host.access === "public") return answer(res, 200, "");
    const url = new URL(uri, "http://preview");
    if (url.pathname === PREVIEW_CALLBACK_PATH) return this.#redeem(res, host, url.searchParams.get("ticket"), https);
    const token = machineToken(req);
    if (token !== undefined) {
      if (await this.#tokenOk(host, token)) return answer(res, 200, "");
      return answer(res, 401, "That is not this environment's access token.\n", { "www-authenticate": 'X-Berth-Preview-Token realm="berth"' });
    }
    const cookie = cookieValue(req.headers.cookie, cookieName(https));
    if (isSessionId(cookie)) {
      const verdict = await this.#sessionOk(host, cookie);
      if (verdict === "yes") return answer(res, 200, "");
      if (verdict === "no") return answer(res, 403, "Your GitHub account cannot read this app's repository, so berth does not show you its preview.\n");
    }
    if (wantsLogin(String(req.headers["x-forwarded-method"] ?? ""), req.headers.accept)) {
      const login = new URL(`${this.o.publicUrl}/preview-login`);
      login.searchParams.set("host", hostname);
      login.searchParams.set("next", previewNext(uri));
      return answer(res, 302, "", { location: login.href });
    }
    answer(res, 401, `This app needs a GitHub login with read access to its repository (open it in a browser), or its access token in the ${TOKEN_HEADER} header.\n`, {
      "www-authenticate": 'X-Berth-Preview-Token realm="berth"',
    });
  }

  async #host(hostname: string): Promise<HostAccess | undefined> {
    const known = this.#hosts.get(hostname);
    if (known !== undefined) return known ?? undefined;
    const found = (await hostAccesses(this.o.db, { hostname }))[0];
    this.#hosts.set(hostname, found ?? null);
    return found;
  }

  /** Asked of Postgres every time (one primary-key read): a rotated token stops working at once. */
  #tokenOk(host: HostAccess, token: string): Promise<boolean> {
    return previewTokenMatches(this.o.db, host.appId, host.environment, token);
  }

  /** yes: a reader's session; no: a session of someone who cannot read the repository; gone: log in again. */
  async #sessionOk(host: HostAccess, id: string): Promise<"yes" | "no" | "gone"> {
    const idHash = sessionIdHash(id);
    const key = `s\n${host.hostname}\n${idHash}`;
    if (this.#passes.get(key)) return "yes";
    const grant = await findPreviewSession(this.o.db, idHash, host.hostname);
    if (!grant) return "gone";
    const verdict = await this.#reader(grant, id, host.repoFullName, idHash);
    if (verdict === "yes") this.#passes.set(key, true);
    return verdict;
  }

  async #reader(grant: PreviewGrant, id: string, repo: string, idHash: string): Promise<"yes" | "no" | "gone"> {
    if (grant.admin) return "yes";
    const token = grant.token_sealed ? openToken(id, grant.token_sealed) : undefined;
    const users = this.o.users;
    if (!users || !token || !grant.github_user_id) return "gone";
    try {
      return allows(await this.o.cache.get(grant.github_user_id, repo, () => users.access(token, repo)), "read") ? "yes" : "no";
    } catch (e) {
      if (e instanceof GitHubUserError && e.status === 401) {
        await deletePreviewGrant(this.o.db, idHash);
        return "gone";
      }
      throw e;
    }
  }

  /** A login ticket from berth's host becomes this hostname's cookie; it works once, here only, for about a minute. */
  async #redeem(res: ServerResponse, host: HostAccess, ticket: string | null, https: boolean): Promise<void> {
    const grant = isSessionId(ticket ?? undefined) ? await redeemTicket(this.o.db, sessionIdHash(ticket!), host.hostname) : undefined;
    if (!grant) return answer(res, 403, "This login link was used already or has expired. Open the preview's address again to log in.\n");
    const token = grant.token_sealed ? openToken(ticket!, grant.token_sealed) : undefined;
    const id = newSessionId();
    await createPreviewSession(this.o.db, {
      idHash: sessionIdHash(id),
      hostname: host.hostname,
      login: grant.login,
      githubUserId: grant.github_user_id ?? undefined,
      admin: grant.admin,
      tokenSealed: token ? sealToken(id, token) : undefined,
      ttlMs: this.o.sessionTtlMs,
    });
    this.o.log.info({ login: grant.login, hostname: host.hostname }, "logged in to a protected preview");
    const cookie = `${cookieName(https)}=${id}; Path=/; HttpOnly; SameSite=Lax${https ? "; Secure" : ""}; Max-Age=${Math.floor(this.o.sessionTtlMs / 1000)}`;
    answer(res, 303, "", { location: previewNext(grant.next), "set-cookie": cookie, "referrer-policy": "no-referrer" });
  }
}

/** The gate of this berth: GitHub login through the App's OAuth client when configured (GITHUB_CLIENT_ID). */
export function previewGateFor(config: Pick<Config, "oauth" | "githubWebUrl" | "githubApiUrl" | "publicUrl" | "sessionTtlMs">, db: Db, log: Logger): PreviewGate {
  const o = config.oauth;
  const users = o ? new GitHubUserClient({ webUrl: config.githubWebUrl, apiUrl: config.githubApiUrl, clientId: o.clientId, clientSecret: o.clientSecret }) : undefined;
  return new PreviewGate({ db, users, cache: new AccessCache(), publicUrl: config.publicUrl, sessionTtlMs: config.sessionTtlMs, log: log.child({ component: "preview-gate" }) });
}

/** Longest path kept to return to after a login; longer ones return to `/`. */
const MAX_NEXT = 1024;

/** A path on the preview's own host to return to: local, printable, bounded; anything else is `/`. */
export function previewNext(raw: string | null | undefined): string {
  return raw && raw.length <= MAX_NEXT && /^\/(?![/\\])[\x21-\x7e]*$/.test(raw) ? raw : "/";
}

/** Whether a request that carries no credentials comes from a browser that can follow a login redirect. */
export function wantsLogin(method: string | undefined, accept: string | undefined): boolean {
  return (method === "GET" || method === "HEAD") && /\btext\/html\b/i.test(accept ?? "");
}

/** The host-only cookie a preview's login sets (`__Host-` under HTTPS: no Domain, Secure, Path=/). */
export function cookieName(https: boolean): string {
  return https ? "__Host-berth_preview" : "berth_preview";
}

/** The machine token a request carries: the header, or Basic auth as user `berth`; undefined: none. */
export function machineToken(req: Pick<IncomingMessage, "headers">): string | undefined {
  const header = req.headers[TOKEN_HEADER];
  if (typeof header === "string" && header.length > 0) return header.slice(0, 256);
  const basic = /^Basic\s+([A-Za-z0-9+/=]{1,400})$/i.exec(req.headers.authorization ?? "");
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
  return decoded.startsWith("berth:") ? decoded.slice("berth:".length) : undefined;
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(text);
}
