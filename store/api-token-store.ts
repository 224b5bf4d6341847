import { sql } from "kysely";
import type { ApiToken, Db } from "./db.js";

/** How many API tokens one GitHub user may hold at once. */
export const MAX_TOKENS_PER_USER = 20;

export interface NewApiToken {
  tokenHash: string;
  githubUserId: string;
  login: string;
  name: string;
  githubTokenSealed: string;
  githubRefreshSealed?: string;
}

/** Stores a token unless its user holds MAX_TOKENS_PER_USER already (checked under a per-user lock); its id, or undefined. */
export async function insertApiToken(db: Db, t: NewApiToken): Promise<number | undefined> {
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext('berth api tokens'), hashtext(${t.githubUserId}))`.execute(tx);
    const held = await tx.selectFrom("api_tokens").select(sql<string>`count(*)`.as("n")).where("github_user_id", "=", t.githubUserId).executeTakeFirstOrThrow();
    if (Number(held.n) >= MAX_TOKENS_PER_USER) return undefined;
    const row = await tx
      .insertInto("api_tokens")
      .values({ token_hash: t.tokenHash, github_user_id: t.githubUserId, login: t.login, name: t.name, github_token_sealed: t.githubTokenSealed, github_refresh_sealed: t.githubRefreshSealed ?? null })
      .returning("id")
      .executeTakeFirstOrThrow();
    return row.id;
  });
}

/** The token with this hash (an indexed equality lookup on a hash: nothing about the token itself is compared). */
export async function findApiToken(db: Db, tokenHash: string): Promise<ApiToken | undefined> {
  return db.selectFrom("api_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
}

/** A user's tokens, newest first, without anything secret. */
export async function listApiTokens(db: Db, githubUserId: string): Promise<Pick<ApiToken, "id" | "name" | "created_at" | "last_used_at">[]> {
  return db.selectFrom("api_tokens").select(["id", "name", "created_at", "last_used_at"]).where("github_user_id", "=", githubUserId).orderBy("id", "desc").execute();
}

/** Revokes one of the user's tokens; whether there was one. */
export async function deleteApiToken(db: Db, githubUserId: string, id: number): Promise<boolean> {
  const r = await db.deleteFrom("api_tokens").where("github_user_id", "=", githubUserId).where("id", "=", id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Notes a use; written at most once a minute per token, so a busy script does not write on every call. */
export async function touchApiToken(db: Db, id: number): Promise<void> {
  await db
    .updateTable("api_tokens")
    .set({ last_used_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", sql<Date>`now() - interval '1 minute'`)]))
    .execute();
}

/** Keeps the renewed GitHub grant of a token (sealed under the token by the caller). */
export async function resealApiToken(db: Db, id: number, githubTokenSealed: string, githubRefreshSealed: string | null): Promise<void> {
  await db.updateTable("api_tokens").set({ github_token_sealed: githubTokenSealed, github_refresh_sealed: githubRefreshSealed }).where("id", "=", id).execute();
}
