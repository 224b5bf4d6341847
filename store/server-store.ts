import { sql } from "kysely";
import type { SecretBox } from "../core/secret-box.js";
import { Sensitive } from "../core/sensitive.js";
import type { TlsBundle } from "../core/tls-bundle.js";
import { LOCAL_SERVER } from "../core/server-names.js";
import type { Db, EngineFacts, Server } from "./db.js";

/**
 * The name releases of the built-in server carry: releases made before the fleet recorded the
 * BERTH_DOCKER_HOST engine as "default", and their routes are found by it, so it stays.
 */
export const LOCAL_RELEASE_SERVER = "default";

/** The name an operator knows a server by (local), from the name its releases and placements carry. */
export const shownServer = (server: string): string => (server === LOCAL_RELEASE_SERVER ? LOCAL_SERVER : server);

/** The name releases and placements carry (default), from the name an operator uses. */
export const releaseServer = (shown: string): string => (shown === LOCAL_SERVER ? LOCAL_RELEASE_SERVER : shown);

// Sealed under the server's name: a bundle copied onto another server's row does not open.
const context = (name: string): string => `server:${name}:tls`;

/** Registers a server that answered a check, its TLS bundle sealed; false when the name is taken. */
export async function insertServer(
  db: Db,
  box: SecretBox | undefined,
  s: { name: string; docker: string; labels: Record<string, string>; tls?: TlsBundle; engine: EngineFacts },
): Promise<Server | undefined> {
  if (s.tls && !box) throw new Error("no BERTH_SECRET_KEY to seal TLS material with");
  const sealed = s.tls && box ? box.seal(context(s.name), new Sensitive(JSON.stringify({ ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key.unwrap() }))) : null;
  return db
    .insertInto("servers")
    .values({ name: s.name, docker_url: s.docker, labels: JSON.stringify(s.labels), tls_sealed: sealed, state: "reachable", checked_at: new Date(), engine: JSON.stringify(s.engine) })
    .onConflict((oc) => oc.column("name").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** A server's TLS bundle, opened for a driver at the moment of use; undefined for ssh:// and unix://. */
export function openServerTls(box: SecretBox | undefined, server: Pick<Server, "name" | "tls_sealed">): TlsBundle | undefined {
  if (!server.tls_sealed) return undefined;
  if (!box) throw new Error(`server ${server.name} has sealed TLS material but berth has no BERTH_SECRET_KEY to open it`);
  const raw = JSON.parse(box.open(context(server.name), server.tls_sealed).unwrap()) as { ca: string; cert: string; key: string };
  return { ca: raw.ca, cert: raw.cert, key: new Sensitive(raw.key) };
}

export async function listServers(db: Db): Promise<Server[]> {
  return db.selectFrom("servers").selectAll().orderBy("name").execute();
}

export async function findServer(db: Db, name: string): Promise<Server | undefined> {
  return db.selectFrom("servers").selectAll().where("name", "=", name).executeTakeFirst();
}

/** Records the outcome of a check: the engine's facts, or the error (the last facts stay for the listing). */
export async function recordServerCheck(db: Db, name: string, outcome: { engine: EngineFacts } | { error: string }): Promise<void> {
  const set =
    "engine" in outcome
      ? { state: "reachable" as const, last_error: null, engine: JSON.stringify(outcome.engine), checked_at: sql<Date>`now()` }
      : { state: "unreachable" as const, last_error: outcome.error, checked_at: sql<Date>`now()` };
  await db.updateTable("servers").set(set).where("name", "=", name).execute();
}

export async function deleteServer(db: Db, name: string): Promise<boolean> {
  const r = await db.deleteFrom("servers").where("name", "=", name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Apps with a release running on each server (starting, live or draining), by the name releases carry. */
export async function appsByServer(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom("releases")
    .select(["server", sql<string>`count(distinct app_id)`.as("apps")])
    .where("state", "in", ["starting", "live", "draining"])
    .groupBy("server")
    .execute();
  return new Map(rows.map((r) => [r.server, Number(r.apps)]));
}
