import { PRODUCTION } from "../core/names.js";
import type { EnvironmentAccess, Manifest } from "./types.js";

/** What decides an environment's access besides its berth.yaml. */
export interface AccessFacts {
  environment: string;
  /** The repository is private; null when berth does not know yet, which counts as private. */
  private: boolean | null;
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
  const fallback: EnvironmentAccess = f.private !== false || manifest?.access === "github" ? "github" : "public";
  const own = manifest?.previews?.access;
  if (own === undefined || (f.untrusted && fallback === "github")) return fallback;
  return own;
}
