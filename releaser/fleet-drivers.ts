import Docker from "dockerode";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import { randomBytes } from "node:crypto";
import { SecretBox } from "../core/secret-box.js";
import { Sensitive } from "../core/sensitive.js";
import { protectedHostnames } from "../store/preview-access-store.js";
import { LOCAL_SERVER } from "../core/server-names.js";
import type { Db, Server } from "../store/db.js";
import { LOCAL_RELEASE_SERVER, openServerTls } from "../store/server-store.js";
import { checkEngine } from "./check-engine.js";
import { dockerOptions, engineOptions } from "./docker-wire.js";
import { DockerodeHost } from "./dockerode-host.js";
import { Fleet, type Droid } from "./fleet.js";
import { protectRoutes } from "./ingress-plan.js";
import { IngressProxy } from "./ingress-proxy.js";

/** How long berth waits for a droid's engine to answer before it calls the droid down. */
export const ENGINE_CHECK_MS = 5000;

/**
 * The fleet of a releasing process: the built-in server from BERTH_DOCKER_HOST (its proxy is the
 * front door) and a driver for each registered server, made from its row when first used. Every
 * server runs its own proxy with the same image and ports; the front door reaches a droid's at the
 * address berth reaches its engine, on BERTH_INGRESS_HTTP_PORT.
 */
export function startFleet(config: Config, db: Db, docker: Docker, box: SecretBox | undefined, log: Logger): Fleet {
  // Front-door keys come from BERTH_SECRET_KEY; a berth without one (which cannot hold droids' TLS
  // material either) makes them from a key of this process's own.
  const keys = box ?? new SecretBox(new Sensitive(randomBytes(32).toString("hex")));
  const spec = { instance: config.instance, image: config.proxyImage, httpPort: config.ingressHttpPort, httpsPort: config.ingressHttpsPort };
  const localOptions = dockerOptions(config.dockerHost);
  const localHost = new DockerodeHost(docker, LOCAL_RELEASE_SERVER, config.instance, { probeImage: config.proxyImage });
  const local: Droid = {
    server: LOCAL_RELEASE_SERVER,
    shown: LOCAL_SERVER,
    host: localHost,
    proxy: new IngressProxy(localHost, spec, config.tls, log),
    check: () => checked(localOptions, config.dockerHost),
  };
  const make = (row: Server): Droid => {
    const options = (): Docker.DockerOptions => engineOptions(row.docker_url, openServerTls(box, row));
    const host = new DockerodeHost(new Docker(options()), row.name, config.instance, { probeImage: config.proxyImage });
    const proxy = new IngressProxy(host, spec, config.tls, log.child({ server: row.name }), true);
    proxy.internalCa = config.tlsInternal;
    // The login of a protected hostname is checked at the front door, so the droid's proxy answers one
    // only to the front door: to requests with its key, which the front door adds and the droid removes.
    const key = frontDoorKey(keys, config.instance, row);
    proxy.frontDoorKey = key;
    // Asked of its own hostnames only (a drain's too: the release live on another server decides).
    proxy.overlay = async (routes) => protectRoutes(routes, await protectedHostnames(db, [...new Set(routes.map((r) => r.hostname))]));
    return {
      server: row.name,
      shown: row.name,
      host,
      proxy,
      ingress: { address: `${new URL(row.docker_url).hostname}:${config.ingressHttpPort}`, key },
      check: () => checked(options(), row.docker_url),
    };
  };
  return new Fleet(db, local, make);
}

/**
 * The key the front door shows a droid's proxy: the same in every berth process and across restarts,
 * and another one for a server registered again under the same name (its row's creation time), so a
 * machine that held the old config does not know the new one's key.
 */
export function frontDoorKey(keys: SecretBox, instance: string, server: Pick<Server, "name" | "created_at">): Sensitive {
  return keys.derive(`front-door:${instance}:${server.name}:${server.created_at.getTime()}`);
}

function checked(options: Docker.DockerOptions, endpoint: string): Promise<{ engine: Awaited<ReturnType<typeof checkEngine>> } | { error: string }> {
  return checkEngine(options, endpoint, ENGINE_CHECK_MS).then(
    (engine) => ({ engine }),
    (e: Error) => ({ error: e.message }),
  );
}
