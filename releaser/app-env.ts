import { UserError } from "../core/errors.js";
import { requireSecrets, type SecretAudience } from "../store/secret-store.js";
import { expandReferences, type Manifest } from "../manifest/manifest.js";
import type { Sensitive } from "../core/sensitive.js";
import { prNumberOf } from "../core/names.js";

/**
 * The BERTH_* variables of one release, built once and given alike to its web container, its
 * processes and its release command, so none of them can disagree (after a `name:` rename, all see
 * the new public name). They go on top of the app's env: an app cannot override them.
 */
export function planBerthEnv(spec: { publicName: string; environment: string; sha: string; url: string }): Record<string, string> {
  const pr = prNumberOf(spec.environment);
  return {
    BERTH_APP: spec.publicName,
    BERTH_ENVIRONMENT: spec.environment,
    BERTH_SHA: spec.sha,
    BERTH_URL: spec.url,
    ...(pr !== undefined ? { BERTH_PR: String(pr) } : {}),
  };
}

/**
 * The env of the app's own containers (web, processes, release) for one environment: the manifest's
 * env, `previews.env` on top in previews, references expanded. Secret values are unwrapped here, at
 * the moment they are handed to Docker, and nowhere else. A declared secret without a value stops the
 * deployment before anything starts.
 */
export function resolveAppEnv(manifest: Manifest, environment: string, app: string, secrets: ReadonlyMap<string, Sensitive>, audience: SecretAudience = "production"): Record<string, string> {
  requireSecrets(manifest.secrets, secrets, app, audience);
  const raw = environment === "production" ? manifest.env : { ...manifest.env, ...manifest.previews.env };
  return expandAll(raw, secrets);
}

/** A service's env with references expanded (services see secrets too, e.g. POSTGRES_PASSWORD). */
export function resolveServiceEnv(env: Record<string, string>, secrets: ReadonlyMap<string, Sensitive>): Record<string, string> {
  return expandAll(env, secrets);
}

function expandAll(env: Record<string, string>, secrets: ReadonlyMap<string, Sensitive>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    out[key] = expandReferences(value, (ref) => {
      if (ref.kind === "service-host") return ref.service; // the service's network alias
      const secret = secrets.get(ref.name);
      if (!secret) throw new UserError(`env ${key} refers to secret ${ref.name}, which is not set: berth secrets set <app> ${ref.name}`);
      return secret.unwrap();
    });
  }
  return out;
}
