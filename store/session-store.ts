import { sql } from "kysely";
import type { Db, Session } from "./db.js";

export interface NewSession {
  idHash: string;
  login: string;
  githubUserId?: string;
  admin?: boolean;
  tokenSealed?: string;
  ttlMs: number;
}

/** Records a session; expired ones are swept at the same time, so the table holds only live sessions. */
export async function createSession(db: Db, s: NewSession): Promise<void> {
  await db.deleteFrom("sessions").where("expires_at", "<", sql<Date>`now()`).execute();
  await db
    .insertInto("sessions")
    .values({
      id_hash: s.idHash,
      login: s.login,
      github_user_id: s.githubUserId ?? null,
      admin: s.admin ?? false,
      token_sealed: s.tokenSealed ?? null,
      expires_at: sql<Date>`now() + ${`${Math.round(s.ttlMs)} milliseconds`}::interval`,
    })
    .execute();
}

/** The session with this id hash, unless it expired. */
export async function findSession(db: Db, idHash: string): Promise<Session | undefined> {
  return db.selectFrom("sessions").selectAll().where("id_hash", "=", idHash).where("expires_at", ">", sql<Date>`now()`).executeTakeFirst();
}

export async function deleteSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
}
