import type { Sensitive } from "../core/sensitive.js";
import { render } from "../core/templates.js";
import { routePathProblem } from "../core/url-path.js";

export interface PathRoute {
  path: string;
  upstreams: string[];
}

/**
 * How the front door reaches a droid's proxy: its host:port, and the key it shows there in
 * X-Berth-Front-Door. The droid's proxy answers a protected hostname only with the key (the front door
 * has checked the login), and removes the header from every request, so no app ever sees it.
 */
export interface DroidIngress {
  address: string;
  key: Sensitive;
}

export interface Route {
  hostname: string;
  upstream: string;
  /** Sent to the upstream as X-Berth-Front-Door: on the front door, a route to a droid's proxy. */
  upstreamKey?: Sensitive;
  /** A custom domain redirected (permanently, path kept) to this hostname instead of proxied. */
  redirect?: string;
  /** Requests matching these paths (in order) go to their upstreams; the rest to `upstream`. */
  paths?: readonly PathRoute[];
  /** Write this hostname's requests to the proxy's access log (stdout): berth reads idle time from it (releaser/sleep.ts). */
  logRequests?: boolean;
  /** A protected environment (access: github): the proxy asks berth (IngressConfig.auth) before it answers. */
  protect?: boolean;
}

export interface IngressConfig {
  tls: boolean;
  /** With TLS, each site also answers plain HTTP: a droid's proxy, which the front door reaches over HTTP. */
  plainHttp: boolean;
  /** With TLS: certificates from Caddy's internal CA (BERTH_TLS=internal). */
  internalCa?: boolean;
  /** With TLS: berth's ask endpoint (host:port); certificates are then obtained on demand, at the first handshake. */
  ask?: string;
  /** berth's preview gate (host:port) for protected sites; absent: protected sites answer 503, never the app. */
  auth?: string;
  /**
   * A droid's proxy: the key the front door sends (X-Berth-Front-Door). Protected sites answer only
   * requests that carry it, as the front door checked their login; every site removes the header.
   */
  frontDoorKey?: Sensitive;
  sites: Site[];
}

export interface Site {
  hostname: string;
  upstreams: string[];
  paths: PathRoute[];
  logRequests: boolean;
  redirect?: string;
  protect?: boolean;
  /** Protected and proxied to the app: berth's credentials are removed from the request first. */
  strip?: boolean;
  /** Protected while berth's gate is unknown: answered 503, never by the app. */
  refuse?: boolean;
  /** Protected, on a droid's proxy: only requests through the front door (IngressConfig.frontDoorKey) reach the app. */
  frontOnly?: boolean;
  /** Sent to the upstreams as X-Berth-Front-Door (Route.upstreamKey). */
  upstreamKey?: Sensitive;
}

const SAFE_UPSTREAM = /^[a-z0-9.:[\]-]+$/i;

/** Plans the whole ingress config from every live route: one site per hostname, in a stable order. */
export function planIngress(routes: readonly Route[], tls: boolean, plainHttp = false): IngressConfig {
  const byHost = new Map<string, { upstreams: Set<string>; paths: PathRoute[]; logRequests: boolean; redirect?: string; protect?: boolean; upstreamKey?: Sensitive }>();
  for (const r of routes) {
    const unsafe =
      !/^[a-z0-9.-]+$/.test(r.hostname) ||
      (r.redirect !== undefined ? !/^[a-z0-9.-]+$/.test(r.redirect) : !SAFE_UPSTREAM.test(r.upstream)) ||
      (r.paths ?? []).some((p) => routePathProblem(p.path) !== undefined || p.upstreams.length === 0 || !p.upstreams.every((u) => SAFE_UPSTREAM.test(u)));
    if (unsafe) throw new Error(`refusing to route ${JSON.stringify(r)}: hostname, path or upstream has characters a Caddyfile cannot hold`);
    const site = byHost.get(r.hostname) ?? { upstreams: new Set<string>(), paths: [], logRequests: false };
    if (r.redirect !== undefined) {
      site.redirect = r.redirect;
      byHost.set(r.hostname, site);
      continue;
    }
    site.upstreams.add(r.upstream);
    site.logRequests ||= r.logRequests === true;
    if (r.protect) site.protect = true;
    if (r.upstreamKey) site.upstreamKey = r.upstreamKey;
    if (site.paths.length === 0 && r.paths) site.paths = r.paths.map((p) => ({ path: p.path, upstreams: [...p.upstreams].sort() }));
    byHost.set(r.hostname, site);
  }
  return {
    tls,
    plainHttp,
    sites: [...byHost.keys()].sort().map((hostname) => {
      const site = byHost.get(hostname);
      // A hostname that also proxies somewhere is never redirected: a redirect only stands alone.
      if (site?.redirect !== undefined && site.upstreams.size === 0) return { hostname, upstreams: [], paths: [], logRequests: false, redirect: site.redirect };
      return { hostname, upstreams: [...(site?.upstreams ?? [])].sort(), paths: site?.paths ?? [], logRequests: site?.logRequests ?? false, ...(site?.protect ? { protect: true } : {}), ...(site?.upstreamKey ? { upstreamKey: site.upstreamKey } : {}) };
    }),
  };
}

/**
 * Points protected sites at berth's gate. A site routed to the gate's own listener (a sleeping
 * environment, upstream: the waker) keeps the credentials, which the waker sends on through the proxy
 * again once the app is awake; every other protected site has them removed before the app sees them.
 */
export function withGate(config: IngressConfig, auth: string | undefined): IngressConfig {
  const sites = config.sites.map((s): Site => {
    if (!s.protect || s.redirect !== undefined) return s;
    // A droid's proxy never asks berth: the front door did, and shows it the key.
    if (config.frontDoorKey) return { ...s, frontOnly: true };
    if (!auth) return { hostname: s.hostname, upstreams: [], paths: [], logRequests: s.logRequests, refuse: true };
    return { ...s, strip: !(s.upstreams.length === 1 && s.upstreams[0] === auth && s.paths.length === 0) };
  });
  return { ...config, ...(auth ? { auth } : {}), sites };
}

/** Marks the routes of protected hostnames, so the proxy asks berth before it answers them. */
export function protectRoutes(routes: readonly Route[], protectedHosts: ReadonlySet<string>): Route[] {
  return routes.map((r) => (protectedHosts.has(r.hostname) ? { ...r, protect: true } : r));
}

const KEY = /^[0-9a-f]{64}$/;

/** The key as the Caddyfile holds it: only the hex SecretBox.derive makes, never anything a template could misread. */
function keyText(key: Sensitive): string {
  const text = key.unwrap();
  if (!KEY.test(text)) throw new Error("refusing to render a front-door key that is not 64 hex characters");
  return text;
}

/** Renders an IngressConfig as a Caddyfile (templates/Caddyfile.hbs). */
export function renderCaddyfile(config: IngressConfig): string {
  const gated = withGate(config, config.auth);
  return render("Caddyfile", {
    ...gated,
    frontDoorKey: gated.frontDoorKey ? keyText(gated.frontDoorKey) : undefined,
    sites: gated.sites.map((s) => ({ ...s, upstreamKey: s.upstreamKey ? keyText(s.upstreamKey) : undefined })),
  });
}
