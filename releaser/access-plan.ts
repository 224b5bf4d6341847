import { PRODUCTION } from "../core/names.js";
import type { EnvironmentAccess, Manifest } from "../manifest/manifest.js";
import type { Route } from "./ingress-plan.js";

/** What decides an environment's access besides its berth.yaml. */
export interface AccessFacts {
  environment: string;
  /** The repository is private. */
  private: boolean;
  /** A fork's or a bot's pull request: its own berth.yaml cannot open what would be protected. */
  untrusted: boolean;
}

/**
 * Who may open an environment's hostname. Production (and its domains) is public unless berth.yaml's
 * `access` says github. A preview follows `previews.access`; absent, it is github for a private
 * repository or a protected production, public otherwise. A fork's or bot's preview cannot relax
 * that default: its berth.yaml is the code under review.
 */
export function accessFor(manifest: Manifest | null, f: AccessFacts): EnvironmentAccess {
  if (f.environment === PRODUCTION) return manifest?.access ?? "public";
  const fallback: EnvironmentAccess = f.private || manifest?.access === "github" ? "github" : "public";
  const own = manifest?.previews.access;
  if (own === undefined || (f.untrusted && fallback === "github")) return fallback;
  return own;
}

/** Marks the routes of protected hostnames, so the proxy asks berth before it answers them. */
export function protectRoutes(routes: readonly Route[], protectedHosts: ReadonlySet<string>): Route[] {
  return routes.map((r) => (protectedHosts.has(r.hostname) ? { ...r, protect: true } : r));
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
