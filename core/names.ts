/** Naming rules shared by the server, builder and releaser: DNS-safe app names, hostnames, URLs, Docker names. */

/**
 * A part of a name that reads like an environment: `production`, or `pr-<N>`. Docker names are
 * `berth-<app>-<environment>-<part>`, and hostnames `<app>-pr-<N>.<domain>`: an app name with such a
 * part could take another app's containers, networks, volumes or preview hostname (app `a-production`
 * in pr-2 vs app `a` in production with a service `pr-2-db`), so app names never have one.
 */
const ENVIRONMENT_PART = /(?:^|-)(?:production|pr-\d+)(?=-|$)/;

/** Why an app name cannot be used (it has a part that reads like an environment), or undefined. */
export function reservedNamePart(name: string): string | undefined {
  const m = ENVIRONMENT_PART.exec(name);
  return m ? m[0].replace(/^-/, "") : undefined;
}

/** A repository name made DNS-safe: lower case, [a-z0-9-], at most 40 characters, never empty, with no part reading like an environment. */
export function appNameFromRepo(repoName: string): string {
  const safe = repoName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    // shop-pr-3 would take shop's preview of PR 3, shop-production a sibling's Docker names.
    .replace(/(^|-)production(?=-|$)/g, "$1prod")
    .replace(/(^|-)pr-(\d+)(?=-|$)/g, "$1pr$2")
    .slice(0, 40)
    .replace(/-$/, "");
  return safe || "app";
}

/** The name users see (hostnames, URLs, API): berth.yaml's `name`, else the app's first name, which Docker names keep. */
export function publicName(app: { name: string; public_name: string | null }): string {
  return app.public_name ?? app.name;
}

/** The environment of the default branch. */
export const PRODUCTION = "production";

/** `production` for the default branch, `pr-<N>` for previews. */
export function environmentName(pr?: number): string {
  return pr === undefined ? PRODUCTION : `pr-${pr}`;
}

/** The PR number of a preview environment (`pr-<N>`), or undefined for production. */
export function prNumberOf(environment: string): number | undefined {
  const m = /^pr-(\d+)$/.exec(environment);
  return m ? Number(m[1]) : undefined;
}

/** `<app>.<domain>` in production, `<app>-pr-<N>.<domain>` for previews. */
export function hostnameFor(app: string, environment: string, domain: string): string {
  return environment === "production" ? `${app}.${domain}` : `${app}-${environment}.${domain}`;
}

/** The public URL of a hostname, with the port when it is not the scheme's default. */
export function publicUrl(hostname: string, tls: boolean, httpPort: number, httpsPort: number): string {
  const [scheme, port, dflt] = tls ? ["https", httpsPort, 443] : ["http", httpPort, 80];
  return `${scheme}://${hostname}${port === dflt ? "" : `:${port}`}`;
}

/**
 * The image reference of one deployment's build: `berth/<app>:<sha>-<deployment>`. A tag belongs to
 * exactly one deployment, so removing a finished deployment's image (a teardown, a prune) can never
 * take the image of a newer build of the same commit (a reopened PR, a redeploy) from under it; the
 * layers are shared, so a second tag of a commit costs nothing.
 */
export function imageRef(app: string, sha: string, deploymentId: number): string {
  return `berth/${app}:${sha}-${deploymentId}`;
}

/**
 * Why an image reference must not run or be built on for an app (ownApp; none for services, which
 * are public images): another app's berth/<app>:<sha> in any spelling Docker reads as it, or a bare
 * image id, which could name any image on the engine. Undefined when it is fine.
 */
export function foreignImage(ref: string, ownApp?: string): string | undefined {
  // Docker reads berth/x as docker.io/berth/x, so the long forms name the same local image.
  const name = ref.toLowerCase().replace(/^(?:(?:index|registry-1)\.)?docker\.io\//, "");
  if (/^(?:sha256:)?[0-9a-f]{12,64}$/.test(name)) return "an image id, which could name any image on the builder, including other apps'";
  const m = /^berth\/([^:@]+)/.exec(name);
  if (m && m[1] !== ownApp) return ownApp === undefined ? `an app's build (berth/${m[1]}); services run public images` : `another app's image (berth/${m[1]})`;
  return undefined;
}

/** Docker name of an app environment's private network. */
export function networkName(app: string, environment: string): string {
  return `berth-${app}-${environment}`;
}

/** Docker name of a release's web container; the deployment id keeps redeploys of one sha apart. */
export function webContainerName(app: string, environment: string, sha: string, deploymentId: number): string {
  return `berth-${app}-${environment}-web-${sha.slice(0, 7)}-${deploymentId}`;
}

/** The installation name when BERTH_INSTANCE is not set: its resources keep the names berth always gave them. */
export const DEFAULT_INSTANCE = "berth";

/** Labels every berth-managed Docker object carries, so reconcilers can find them. */
export const LABEL = {
  managed: "berth.managed",
  /** The installation (BERTH_INSTANCE) that owns it; absent on objects made before installations were named: the default's. */
  instance: "berth.instance",
  app: "berth.app",
  environment: "berth.environment",
  sha: "berth.sha",
  deployment: "berth.deployment",
  role: "berth.role",
} as const;

/**
 * berth's own hostname when its public URL names one the proxy can route and certify (not an IP
 * address, not localhost): the proxy then serves webhooks, API and dashboard there too.
 */
export function proxiedHostname(publicUrl: string): string | undefined {
  const host = new URL(publicUrl).hostname.toLowerCase();
  // Two labels or more, and not an IPv4 address (an IPv6 one is bracketed and fails the pattern).
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(host) && !/^[\d.]+$/.test(host) ? host : undefined;
}
