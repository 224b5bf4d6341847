import { sql } from "kysely";
import type { Db } from "./db.js";
import type { SecretBox } from "./secret-box.js";
import type { Sensitive } from "./sensitive.js";

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
