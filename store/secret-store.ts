import { sql } from "kysely";
import { UserError } from "../core/errors.js";
import type { Db } from "./db.js";
import type { SecretBox } from "../core/secret-box.js";
import type { Sensitive } from "../core/sensitive.js";

const context = (appId: number, name: string): string => `app:${appId}:secret:${name}`;

/** Sets (or replaces) an app secret, sealed before it reaches Postgres. */
export async function putSecret(db: Db, box: SecretBox, appId: number, name: string, value: Sensitive): Promise<void> {
  const sealed = box.seal(context(appId, name), value);
  await db
    .insertInto("secrets")
    .values({ app_id: appId, name, sealed })
    .onConflict((oc) => oc.columns(["app_id", "name"]).doUpdateSet({ sealed, updated_at: sql`now()` }))
    .execute();
}

/** Names and update times only: values never leave berth through a listing. */
export async function listSecretNames(db: Db, appId: number): Promise<{ name: string; updatedAt: Date }[]> {
  const rows = await db.selectFrom("secrets").select(["name", "updated_at"]).where("app_id", "=", appId).orderBy("name").execute();
  return rows.map((r) => ({ name: r.name, updatedAt: r.updated_at }));
}

export async function deleteSecret(db: Db, appId: number, name: string): Promise<boolean> {
  const r = await db.deleteFrom("secrets").where("app_id", "=", appId).where("name", "=", name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Every secret of an app, opened, for a driver to hand to containers at the moment of use. */
export async function openSecrets(db: Db, box: SecretBox, appId: number): Promise<Map<string, Sensitive>> {
  const rows = await db.selectFrom("secrets").select(["name", "sealed"]).where("app_id", "=", appId).execute();
  return new Map(rows.map((r) => [r.name, box.open(context(appId, r.name), r.sealed)]));
}

/** Stops a deployment before anything starts when berth.yaml names secrets that have no value yet, saying how to set them. */
export function requireSecrets(names: readonly string[], secrets: ReadonlyMap<string, Sensitive>, app: string): void {
  const missing = names.filter((name) => !secrets.has(name));
  if (missing.length === 0) return;
  throw new UserError(
    `berth.yaml needs ${missing.length === 1 ? "secret" : "secrets"} ${missing.join(", ")}, not set for ${app}. ` +
      `Set ${missing.length === 1 ? "it" : "each"} with \`berth secrets set ${app} ${missing[0]}\` (or PUT /api/v1/apps/${app}/secrets/${missing[0]}) and push again.`,
  );
}
