import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { sql } from "kysely";
import { PRODUCTION } from "../core/names.js";
import type { SecretBox } from "../core/secret-box.js";
import { Sensitive } from "../core/sensitive.js";
import { accessFor, type EnvironmentAccess } from "../manifest/manifest.js";
import type { Db } from "./db.js";

/** A hostname berth serves, with whose environment it is and who may open it. */
export interface HostAccess {
  hostname: string;
  appId: number;
  repoFullName: string;
  environment: string;
  access: EnvironmentAccess;
}

/**
 * Every live environment's hostnames (and production's verified domains) with their access, on every
 * server (the front door guards them all); `hostname` narrows it to one.
 */
export async function hostAccesses(db: Db, where: { hostname?: string; appId?: number; among?: readonly string[] } = {}): Promise<HostAccess[]> {
  const { hostname, appId, among } = where;
  if (among?.length === 0) return [];
  let q = db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .innerJoin("apps", "apps.id", "releases.app_id")
    .leftJoin("environments as e", (j) => j.onRef("e.app_id", "=", "releases.app_id").onRef("e.name", "=", "releases.environment"))
    .leftJoin("domains", (j) => j.onRef("domains.app_id", "=", "releases.app_id").on("releases.environment", "=", PRODUCTION).on("domains.verified", "=", true))
    .select(["releases.hostname", "releases.app_id as appId", "apps.repo_full_name as repo", "apps.private", "releases.environment", "deployments.manifest", "e.fork", "e.author_bot", "domains.name as domain"])
    .where("releases.state", "=", "live");
  if (hostname !== undefined) q = q.where((eb) => eb.or([eb("releases.hostname", "=", hostname), eb("domains.name", "=", hostname)]));
  if (appId !== undefined) q = q.where("releases.app_id", "=", appId);
  if (among !== undefined) q = q.where((eb) => eb.or([eb("releases.hostname", "in", [...among]), eb("domains.name", "in", [...among])]));
  const out = new Map<string, HostAccess>();
  for (const r of await q.execute()) {
    const access = accessFor(r.manifest, { environment: r.environment, private: r.private, untrusted: Boolean(r.fork || r.author_bot) });
    const base = { appId: r.appId, repoFullName: r.repo, environment: r.environment, access };
    // Two rows for one hostname (which checkDomain keeps from happening) never make it less protected.
    const keep = (name: string): void => {
      if (out.get(name)?.access !== "github") out.set(name, { hostname: name, ...base });
    };
    keep(r.hostname);
    if (r.domain) keep(r.domain);
  }
  const all = [...out.values()];
  return hostname === undefined ? all : all.filter((h) => h.hostname === hostname);
}

/** The hostnames that need a GitHub login or a machine token; `among`: of these only (one droid's routes). */
export async function protectedHostnames(db: Db, among?: readonly string[]): Promise<Set<string>> {
  return new Set((await hostAccesses(db, among ? { among } : {})).filter((h) => h.access === "github").map((h) => h.hostname));
}

// Sealed under its app and environment: a sealed token copied onto another row does not open.
const context = (appId: number, environment: string): string => `app:${appId}:preview-token:${environment}`;
const hashOf = (token: string): string => createHash("sha256").update(token).digest("hex");
/** The shape of a machine token: a prefix that says what it is, and 32 random bytes. */
export const PREVIEW_TOKEN = /^bpt_[A-Za-z0-9_-]{43}$/;

/** An environment's machine token, made on first use; sealed under BERTH_SECRET_KEY, so it can be shown again. */
export async function previewToken(db: Db, box: SecretBox, appId: number, environment: string): Promise<{ token: Sensitive; createdAt: Date }> {
  const row = await db.selectFrom("preview_tokens").select(["token_sealed", "created_at"]).where("app_id", "=", appId).where("environment", "=", environment).executeTakeFirst();
  if (row) return { token: box.open(context(appId, environment), row.token_sealed), createdAt: row.created_at };
  return rotatePreviewToken(db, box, appId, environment, false);
}

/** A new machine token for the environment (the old one stops working at once); `replace: false` keeps one made meanwhile. */
export async function rotatePreviewToken(db: Db, box: SecretBox, appId: number, environment: string, replace = true): Promise<{ token: Sensitive; createdAt: Date }> {
  const token = new Sensitive(`bpt_${randomBytes(32).toString("base64url")}`);
  const values = { app_id: appId, environment, token_hash: hashOf(token.unwrap()), token_sealed: box.seal(context(appId, environment), token) };
  await db
    .insertInto("preview_tokens")
    .values(values)
    .onConflict((oc) => (replace ? oc.columns(["app_id", "environment"]).doUpdateSet({ ...values, created_at: sql`now()` }) : oc.columns(["app_id", "environment"]).doNothing()))
    .execute();
  return replace ? { token, createdAt: new Date() } : previewToken(db, box, appId, environment);
}

/** Whether a presented machine token is the environment's, compared in constant time (as hashes). */
export async function previewTokenMatches(db: Db, appId: number, environment: string, given: string): Promise<boolean> {
  if (!PREVIEW_TOKEN.test(given)) return false;
  const row = await db.selectFrom("preview_tokens").select("token_hash").where("app_id", "=", appId).where("environment", "=", environment).executeTakeFirst();
  if (!row) return false;
  const a = Buffer.from(hashOf(given), "hex");
  const b = Buffer.from(row.token_hash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
