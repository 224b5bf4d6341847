import { sql } from "kysely";
import { UserError } from "../core/errors.js";
import { PRODUCTION } from "../core/names.js";
import type { Db, Environment, SecretScope } from "./db.js";
import type { SecretBox } from "../core/secret-box.js";
import type { Sensitive } from "../core/sensitive.js";
import { Redactor } from "../core/redactor.js";

/**
 * Who a deployment's code comes from, which decides the secret values it may see: production gets
 * production values; a same-repository preview gets preview values, else production's; a preview of
 * code a fork's author or a bot wrote ("untrusted") gets preview values only, never production's.
 */
export type SecretAudience = "production" | "preview" | "untrusted-preview";

/** The audience of an environment: a preview is untrusted when its PR comes from a fork or a bot. */
export function audienceOf(environment: string, env: Pick<Environment, "fork" | "author_bot"> | undefined): SecretAudience {
  if (environment === PRODUCTION) return "production";
  return env && !env.fork && !env.author_bot ? "preview" : "untrusted-preview";
}

// Each value is sealed under its app, name and scope: a sealed value copied to another row does not open.
const context = (appId: number, name: string, scope: SecretScope): string => `app:${appId}:secret:${name}${scope === "previews" ? ":previews" : ""}`;

/** Sets (or replaces) an app secret's value for one scope, sealed before it reaches Postgres. */
export async function putSecret(db: Db, box: SecretBox, appId: number, name: string, value: Sensitive, scope: SecretScope = "production"): Promise<void> {
  const sealed = box.seal(context(appId, name, scope), value);
  await db
    .insertInto("secrets")
    .values({ app_id: appId, name, scope, sealed })
    .onConflict((oc) => oc.columns(["app_id", "name", "scope"]).doUpdateSet({ sealed, updated_at: sql`now()` }))
    .execute();
}

/** Names, the scopes each has a value for, and update times: values never leave berth through a listing. */
export async function listSecretNames(db: Db, appId: number): Promise<{ name: string; scopes: SecretScope[]; updatedAt: Date }[]> {
  const rows = await db.selectFrom("secrets").select(["name", "scope", "updated_at"]).where("app_id", "=", appId).orderBy("name").orderBy("scope").execute();
  const byName = new Map<string, { name: string; scopes: SecretScope[]; updatedAt: Date }>();
  for (const r of rows) {
    const entry = byName.get(r.name) ?? { name: r.name, scopes: [], updatedAt: r.updated_at };
    entry.scopes.push(r.scope);
    if (r.updated_at > entry.updatedAt) entry.updatedAt = r.updated_at;
    byName.set(r.name, entry);
  }
  return [...byName.values()];
}

export async function deleteSecret(db: Db, appId: number, name: string, scope: SecretScope = "production"): Promise<boolean> {
  const r = await db.deleteFrom("secrets").where("app_id", "=", appId).where("name", "=", name).where("scope", "=", scope).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The secrets an audience may see, opened, for a driver to hand to containers at the moment of use. */
export async function openSecrets(db: Db, box: SecretBox, appId: number, audience: SecretAudience): Promise<Map<string, Sensitive>> {
  const scopes: SecretScope[] = audience === "production" ? ["production"] : audience === "preview" ? ["production", "previews"] : ["previews"];
  const rows = await db.selectFrom("secrets").select(["name", "scope", "sealed"]).where("app_id", "=", appId).where("scope", "in", scopes).execute();
  const open = new Map<string, Sensitive>();
  // Preview values override production's for a same-repository preview.
  for (const r of [...rows].sort((a, b) => (a.scope === b.scope ? 0 : a.scope === "previews" ? 1 : -1))) open.set(r.name, box.open(context(appId, r.name, r.scope), r.sealed));
  return open;
}

/**
 * The redactor for everything a deployment of this app writes or reports: it masks the values of
 * all the app's secrets, in every scope, whatever the deployment was given.
 */
export async function appRedactor(db: Db, box: SecretBox | undefined, appId: number): Promise<Redactor> {
  if (!box) return Redactor.none;
  const rows = await db.selectFrom("secrets").select(["name", "scope", "sealed"]).where("app_id", "=", appId).execute();
  return new Redactor(rows.map((r) => box.open(context(appId, r.name, r.scope), r.sealed)));
}

/**
 * Stops a deployment before anything starts when berth.yaml names secrets that have no value for
 * its audience, saying how to set them.
 */
export function requireSecrets(names: readonly string[], secrets: ReadonlyMap<string, Sensitive>, app: string, audience: SecretAudience = "production"): void {
  const missing = names.filter((name) => !secrets.has(name));
  if (missing.length === 0) return;
  const one = missing.length === 1;
  if (audience === "untrusted-preview") {
    throw new UserError(
      `This preview runs code from a fork or a bot, which gets only secrets set for previews, never production's; ` +
        `berth.yaml needs ${one ? "secret" : "secrets"} ${missing.join(", ")}, which ${one ? "has" : "have"} no preview value for ${app}. ` +
        `Set ${one ? "one" : "each"} with \`berth secrets set ${app} ${missing[0]} --previews\` (or PUT /api/v1/apps/${app}/secrets/${missing[0]}?scope=previews) and push again.`,
    );
  }
  throw new UserError(
    `berth.yaml needs ${one ? "secret" : "secrets"} ${missing.join(", ")}, not set for ${app}. ` +
      `Set ${one ? "it" : "each"} with \`berth secrets set ${app} ${missing[0]}\` (or PUT /api/v1/apps/${app}/secrets/${missing[0]}) and push again.`,
  );
}
