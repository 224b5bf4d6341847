import { UserError } from "../core/errors.js";
import { PRODUCTION } from "../core/names.js";
import type { Manifest } from "../manifest/manifest.js";
import type { Placement, Resources } from "../manifest/types.js";
import type { Db, Server } from "../store/db.js";
import { liveRelease } from "../store/queries.js";
import { getPlacement, place, placedManifests } from "../store/placement-store.js";
import { listServers } from "../store/server-store.js";
import type { Droid, Fleet } from "./fleet.js";

/** What a container that declares no memory is counted as reserving on its server. */
export const DEFAULT_RESERVATION_BYTES = 256 * 1024 * 1024;

/** A server as placement sees it. */
export interface Candidate {
  /** The name releases carry ("default" for local). */
  server: string;
  /** The name the operator uses ("local"). */
  shown: string;
  labels: Record<string, string>;
  /** Why it cannot take an environment now; undefined when its engine answered. */
  unreachable?: string;
  memoryBytes: number;
  reservedBytes: number;
}

/** The memory an environment's containers reserve: what each declares, the default for those that declare none. */
export function reservation(manifest: Manifest | null | undefined, fallback = DEFAULT_RESERVATION_BYTES): number {
  const of = (r: Resources): number => r.memoryBytes ?? fallback;
  if (!manifest) return fallback;
  let bytes = of(manifest.web.resources);
  for (const p of Object.values(manifest.processes)) bytes += of(p.resources) * p.replicas;
  for (const s of Object.values(manifest.services)) bytes += of(s.resources);
  return bytes;
}

const describeLabels = (labels: Record<string, string>): string =>
  Object.keys(labels).length === 0 ? "no labels" : Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(", ");

/**
 * Chooses a server for a new environment: the one named by the placement, else the reachable one with
 * the most unreserved memory among those carrying the placement's labels (the first listed, local,
 * on a tie). The error names what was asked and what each server offers.
 */
export function choosePlacement(candidates: readonly Candidate[], want: Placement | undefined, what: string): { server: string } | { error: string } {
  const listing = candidates.map((c) => `${c.shown} (${describeLabels(c.labels)}${c.unreachable ? `; unreachable: ${c.unreachable}` : ""})`).join("; ");
  const matches = (c: Candidate): boolean => Object.entries(want?.labels ?? {}).every(([k, v]) => c.labels[k] === v);
  if (want?.server) {
    const named = candidates.find((c) => c.shown === want.server || c.server === want.server);
    if (!named) return { error: `berth.yaml places ${what} on server ${want.server}, which is not registered. Servers: ${listing}.` };
    if (!matches(named)) return { error: `berth.yaml places ${what} on server ${want.server} with labels ${describeLabels(want.labels)}, but it carries ${describeLabels(named.labels)}.` };
    return { server: named.server };
  }
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (c.unreachable !== undefined || !matches(c)) continue;
    if (!best || c.memoryBytes - c.reservedBytes > best.memoryBytes - best.reservedBytes) best = c;
  }
  if (best) return { server: best.server };
  const asked = want && Object.keys(want.labels).length > 0 ? ` carrying ${describeLabels(want.labels)}` : "";
  return { error: `No reachable server${asked} can take ${what}. Servers: ${listing}.` };
}

/**
 * The droid an environment's release goes to: where it lives already (its placement, or for an
 * environment released before placements existed, its live release's server), else a server chosen
 * now by capacity and berth.yaml's placement, recorded so that it stays there across releases.
 */
export async function placeEnvironment(db: Db, fleet: Fleet, appId: number, environment: string, manifest: Manifest | null | undefined, what: string, fallbackBytes?: number): Promise<Droid> {
  const placed = (await getPlacement(db, appId, environment)) ?? (await liveRelease(db, appId, environment))?.server;
  if (placed) return fleet.get(await place(db, appId, environment, placed));
  const want = environment === PRODUCTION ? manifest?.placement : manifest?.previews.placement;
  const droids = await fleet.all();
  // A single server needs no choosing (nor a check of its engine on the release's critical path).
  if (droids.length === 1 && !want?.server && Object.keys(want?.labels ?? {}).length === 0) return fleet.get(await place(db, appId, environment, fleet.local.server));
  const rows = new Map<string, Server>((await listServers(db)).map((r) => [r.name, r]));
  const reserved = new Map<string, number>();
  for (const p of await placedManifests(db)) reserved.set(p.server, (reserved.get(p.server) ?? 0) + reservation(p.manifest, fallbackBytes));
  // Each engine is asked at once, within its bound: free memory is read now, not from an old listing.
  const candidates = await Promise.all(
    droids.map(async (droid): Promise<Candidate> => {
      const base = { server: droid.server, shown: droid.shown, labels: rows.get(droid.server)?.labels ?? {}, reservedBytes: reserved.get(droid.server) ?? 0 };
      try {
        return { ...base, memoryBytes: (await fleet.reachable(droid)).memoryBytes };
      } catch (e) {
        return { ...base, memoryBytes: 0, unreachable: (e as Error).message };
      }
    }),
  );
  const chosen = choosePlacement(candidates, want, what);
  if ("error" in chosen) throw new UserError(chosen.error);
  return fleet.get(await place(db, appId, environment, chosen.server));
}
