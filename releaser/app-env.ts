import { UserError } from "../core/errors.js";
import { requireSecrets } from "../store/secret-store.js";
import { expandReferences, type Manifest } from "../manifest/manifest.js";
import type { Sensitive } from "../core/sensitive.js";

/**
 * The env of the app's own containers (web, processes, release) for one environment: the manifest's
 * env, `previews.env` on top in previews, references expanded. Secret values are unwrapped here, at
 * the moment they are handed to Docker, and nowhere else. A declared secret without a value stops the
 * deployment before anything starts.
 */
export function resolveAppEnv(manifest: Manifest, environment: string, app: string, secrets: ReadonlyMap<string, Sensitive>): Record<string, string> {
  requireSecrets(manifest.secrets, secrets, app);
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
