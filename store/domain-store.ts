import type { DomainSetting } from "../manifest/manifest.js";
import type { Db } from "./db.js";

export interface DomainRow {
  id: number;
  name: string;
  redirect_to: string | null;
  source: "manifest" | "api";
  verified: boolean;
  problem: string | null;
  checked_at: Date | null;
}

/**
 * Makes the app's berth.yaml domains what production's file lists (domains added through the API
 * stay). A domain another app holds is not taken: it is returned with its holder's name.
 */
export async function syncDomains(db: Db, appId: number, wanted: readonly DomainSetting[]): Promise<{ name: string; holder: string }[]> {
  return db.transaction().execute(async (tx) => {
    const names = wanted.map((d) => d.name);
    let gone = tx.deleteFrom("domains").where("app_id", "=", appId).where("source", "=", "manifest");
    if (names.length > 0) gone = gone.where("name", "not in", names);
    await gone.execute();
    const taken: { name: string; holder: string }[] = [];
    for (const d of wanted) {
      await tx.insertInto("domains").values({ app_id: appId, name: d.name, redirect_to: d.redirectTo ?? null }).onConflict((oc) => oc.column("name").doNothing()).execute();
      const row = await tx.selectFrom("domains").innerJoin("apps", "apps.id", "domains.app_id").select(["domains.app_id", "apps.name", "apps.public_name"]).where("domains.name", "=", d.name).executeTakeFirstOrThrow();
      if (row.app_id !== appId) taken.push({ name: d.name, holder: row.public_name ?? row.name });
      else await tx.updateTable("domains").set({ redirect_to: d.redirectTo ?? null }).where("name", "=", d.name).execute();
    }
    return taken;
  });
}

export async function listDomains(db: Db, appId: number): Promise<DomainRow[]> {
  return db.selectFrom("domains").select(["id", "name", "redirect_to", "source", "verified", "problem", "checked_at"]).where("app_id", "=", appId).orderBy("name").execute();
}

/** Every domain with its app's names: what a reconciler pass checks again. */
export async function allDomains(db: Db): Promise<(DomainRow & { app_name: string; public_name: string | null })[]> {
  return db
    .selectFrom("domains")
    .innerJoin("apps", "apps.id", "domains.app_id")
    .select(["domains.id", "domains.name", "domains.redirect_to", "domains.source", "domains.verified", "domains.problem", "domains.checked_at", "apps.name as app_name", "apps.public_name"])
    .orderBy("domains.name")
    .execute();
}

/** Records a check; true when the domain's routing changed (verified now, or no longer). */
export async function recordDomainCheck(db: Db, id: number, outcome: { verified: true } | { verified: false; problem: string }): Promise<boolean> {
  const before = await db.selectFrom("domains").select("verified").where("id", "=", id).executeTakeFirst();
  await db
    .updateTable("domains")
    .set(outcome.verified ? { verified: true, problem: null, checked_at: new Date(), ...(before?.verified ? {} : { verified_at: new Date() }) } : { verified: false, problem: outcome.problem, checked_at: new Date() })
    .where("id", "=", id)
    .execute();
  return before !== undefined && before.verified !== outcome.verified;
}
