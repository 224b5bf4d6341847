import { sql, type Selectable } from "kysely";
import type { Db } from "./db.js";
import type { PreviewGrantsTable } from "./preview-tables.js";

/** Login tickets not yet redeemed, over all hostnames; past this, new logins wait (503) until some expire. */
export const MAX_OPEN_TICKETS = 10_000;
/** Login tickets one GitHub user may have open: one reader cannot use up everyone's. */
export const MAX_OPEN_TICKETS_PER_USER = 20;
/** Preview sessions kept; past this the oldest are dropped (their browsers log in again). */
export const MAX_PREVIEW_SESSIONS = 100_000;

export interface NewGrant {
  idHash: string;
  hostname: string;
  login: string;
  githubUserId?: string;
  admin?: boolean;
  tokenSealed?: string;
  next?: string;
  ttlMs: number;
}

export type PreviewGrant = Pick<Selectable<PreviewGrantsTable>, "hostname" | "login" | "github_user_id" | "admin" | "token_sealed" | "next">;

const expiresIn = (ms: number) => sql<Date>`now() + ${`${Math.round(ms)} milliseconds`}::interval`;

/** Records a login ticket; false when too many are open (expired ones are swept first). */
export async function createTicket(db: Db, t: NewGrant): Promise<boolean> {
  await db.deleteFrom("preview_grants").where("expires_at", "<", sql<Date>`now()`).execute();
  const open = await db
    .selectFrom("preview_grants")
    .select((eb) => [eb.fn.countAll<string>().as("n"), eb.fn.sum<string>(eb.case().when("login", "=", t.login).then(1).else(0).end()).as("mine")])
    .where("kind", "=", "ticket")
    .executeTakeFirstOrThrow();
  if (Number(open.n) >= MAX_OPEN_TICKETS || Number(open.mine ?? 0) >= MAX_OPEN_TICKETS_PER_USER) return false;
  await db.insertInto("preview_grants").values(row("ticket", t)).execute();
  return true;
}

/** Takes a ticket for a hostname: once only (deleted as it is read), and only before it expires. */
export async function redeemTicket(db: Db, idHash: string, hostname: string): Promise<PreviewGrant | undefined> {
  return db
    .deleteFrom("preview_grants")
    .where("id_hash", "=", idHash)
    .where("kind", "=", "ticket")
    .where("hostname", "=", hostname)
    .where("expires_at", ">", sql<Date>`now()`)
    .returning(["hostname", "login", "github_user_id", "admin", "token_sealed", "next"])
    .executeTakeFirst();
}

/** Records a preview session for one hostname; the oldest go when there are too many. */
export async function createPreviewSession(db: Db, s: NewGrant): Promise<void> {
  await db.insertInto("preview_grants").values(row("session", s)).execute();
  const count = await db.selectFrom("preview_grants").select((eb) => eb.fn.countAll<string>().as("n")).where("kind", "=", "session").executeTakeFirstOrThrow();
  const over = Number(count.n) - MAX_PREVIEW_SESSIONS;
  if (over > 0) {
    const oldest = db.selectFrom("preview_grants").select("id_hash").where("kind", "=", "session").orderBy("expires_at").limit(over);
    await db.deleteFrom("preview_grants").where("id_hash", "in", oldest).execute();
  }
}

/** The live preview session with this id hash, for this hostname only. */
export async function findPreviewSession(db: Db, idHash: string, hostname: string): Promise<PreviewGrant | undefined> {
  return db
    .selectFrom("preview_grants")
    .select(["hostname", "login", "github_user_id", "admin", "token_sealed", "next"])
    .where("id_hash", "=", idHash)
    .where("kind", "=", "session")
    .where("hostname", "=", hostname)
    .where("expires_at", ">", sql<Date>`now()`)
    .executeTakeFirst();
}

export async function deletePreviewGrant(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom("preview_grants").where("id_hash", "=", idHash).execute();
}

function row(kind: "ticket" | "session", g: NewGrant) {
  return {
    id_hash: g.idHash,
    kind,
    hostname: g.hostname,
    login: g.login,
    github_user_id: g.githubUserId ?? null,
    admin: g.admin ?? false,
    token_sealed: g.tokenSealed ?? null,
    next: g.next ?? null,
    expires_at: expiresIn(g.ttlMs),
  };
}
