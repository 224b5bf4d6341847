import { sql, type Kysely } from "kysely";

/**
 * Stored manifests used to carry previews.expireAfterMs = 7d when berth.yaml said nothing, which made
 * an explicit `expire_after: 7d` indistinguishable from the default. The parser now leaves it out
 * when the file does not set it; take it out of stored rows too, so BERTH_PREVIEW_TTL decides for
 * them as it did before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`update deployments set manifest = manifest #- '{previews,expireAfterMs}' where manifest -> 'previews' ->> 'expireAfterMs' = '604800000'`.execute(db);
}

export async function down(): Promise<void> {
  // Nothing to undo: a manifest without expireAfterMs means the default either way.
}
