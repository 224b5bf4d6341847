import type { Db } from "../store/db.js";
import { networkName } from "../core/names.js";
import { lockKeys, withLock } from "../store/locks.js";
import { liveEnvironments, liveRoutes, remoteHostnames } from "../store/queries.js";
import type { DockerHost } from "./docker-host.js";
import type { IngressProxy } from "./ingress-proxy.js";
import type { DroidIngress, Route } from "./ingress-plan.js";

/**
 * The proxy on berth's own host, in front of the whole fleet: it routes each hostname that lives on a
 * droid to that droid's proxy (which routes it on to the containers), so one wildcard DNS record for
 * the front door serves every server.
 */
export interface FrontDoor {
  host: DockerHost;
  proxy: IngressProxy;
  /** The droid proxy's host:port and key for a release server name; undefined for the front door's own server. */
  ingressOf(server: string): Promise<DroidIngress | undefined>;
}

/** What writes a server's ingress config: its Docker host, its proxy, and the desired state in Postgres. */
export interface RouteDeps {
  db: Db;
  host: DockerHost;
  proxy: IngressProxy;
  /** Absent: a single server, which is its own front door. */
  frontDoor?: FrontDoor;
}

/**
 * Renders the server's whole route table from Postgres and applies it; serialized per server. A
 * droid's change is applied to the front door after it (a no-op when its routes did not change).
 */
export async function applyRoutes(deps: RouteDeps): Promise<void> {
  await withLock(deps.db, lockKeys.ingress(deps.host.name), async () => {
    await deps.proxy.apply(await routesOf(deps));
  });
  const door = deps.frontDoor;
  if (door && door.host.name !== deps.host.name) await applyRoutes({ db: deps.db, host: door.host, proxy: door.proxy, frontDoor: door });
}

/** Starts (or recreates) the server's proxy with every live route and attached to every live network. */
export async function ensureProxy(deps: RouteDeps): Promise<void> {
  await withLock(deps.db, lockKeys.ingress(deps.host.name), async () => {
    const liveNetworks = (await liveEnvironments(deps.db, deps.host.name)).map((e) => networkName(e.app, e.environment));
    await deps.proxy.ensure(await routesOf(deps), liveNetworks);
  });
}

/**
 * The server's own live routes, and on the front door also every other server's hostnames, to that
 * server's proxy. A release drained after a move off this server keeps its route until the drain stops
 * it: the front door sends its hostname here until its own reload is done, and another apply of this
 * server's routes in between (a reconciler pass, another app's release) must not answer those 404. Only
 * a hostname live on another server is kept so: after a rename the old one goes at the switch.
 */
async function routesOf(deps: RouteDeps): Promise<Route[]> {
  const own = await liveRoutes(deps.db, deps.host.name);
  const taken = new Set(own.map((r) => r.hostname));
  const remote = await remoteHostnames(deps.db, deps.host.name);
  const door = deps.frontDoor;
  const elsewhere: Route[] = [];
  if (door && door.host.name === deps.host.name) {
    const ingress = new Map<string, DroidIngress | undefined>(); // one lookup per server, however many hostnames
    for (const { hostname, server } of remote) {
      if (!ingress.has(server)) ingress.set(server, await door.ingressOf(server));
      const droid = ingress.get(server);
      if (droid && !taken.has(hostname)) elsewhere.push({ hostname, upstream: droid.address, upstreamKey: droid.key });
      taken.add(hostname); // the front door sends it to that server, never to a drain here
    }
  }
  const movedAway = new Set(remote.map((r) => r.hostname));
  // Nothing moved off this server (nearly every apply): no drain to look at.
  const draining = movedAway.size === 0 ? [] : (await liveRoutes(deps.db, deps.host.name, "draining")).filter((r) => movedAway.has(r.hostname) && !taken.has(r.hostname));
  // The newest drain first (the query's order), and one route per hostname.
  return [...own, ...elsewhere, ...draining.filter((r, i) => draining.findIndex((x) => x.hostname === r.hostname) === i)];
}
