import type { Db } from "../store/db.js";
import { networkName } from "../core/names.js";
import { lockKeys, withLock } from "../store/locks.js";
import { liveEnvironments, liveRoutes } from "../store/queries.js";
import type { DockerHost } from "./docker-host.js";
import type { IngressProxy } from "./ingress-proxy.js";

/** What writes a server's ingress config: its Docker host, its proxy, and the desired state in Postgres. */
export interface RouteDeps {
  db: Db;
  host: DockerHost;
  proxy: IngressProxy;
}

/** Renders the droid server's whole route table from Postgres and applies it; serialized per server. */
export async function applyRoutes(deps: RouteDeps): Promise<void> {
  await withLock(deps.db, lockKeys.ingress(deps.host.name), async () => {
    await deps.proxy.apply(await liveRoutes(deps.db, deps.host.name));
  });
}

/** Starts (or recreates) the server's proxy with every live route and attached to every live network. */
export async function ensureProxy(deps: RouteDeps): Promise<void> {
  await withLock(deps.db, lockKeys.ingress(deps.host.name), async () => {
    const liveNetworks = (await liveEnvironments(deps.db, deps.host.name)).map((e) => networkName(e.app, e.environment));
    await deps.proxy.ensure(await liveRoutes(deps.db, deps.host.name), liveNetworks);
  });
}
