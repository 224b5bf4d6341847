import { createHash } from "node:crypto";
import type Docker from "dockerode";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import type { Db } from "../store/db.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { containerAccessLog } from "../releaser/access-log.js";
import type { DockerHost } from "../releaser/docker-host.js";
import type { IngressProxy } from "../releaser/ingress-proxy.js";
import { proxyNames } from "../releaser/proxy-plan.js";
import { Sleeper } from "../releaser/sleep.js";
import { Waker, type WakerOptions } from "./waker.js";
import { protectRoutes } from "../releaser/ingress-plan.js";

export interface SleepWiring {
  db: Db;
  docker: Docker;
  host: DockerHost;
  proxy: IngressProxy;
  config: Config;
  reporter: DeploymentReporter;
  metrics: Metrics;
  log: Logger;
  /** The TLS ask and berth's own hostname, answered on the waker's listener too (WakerOptions). */
  knows?: WakerOptions["knows"];
  self?: WakerOptions["self"];
  gate?: WakerOptions["gate"];
}

/**
 * Sleeping environments on berth's own Docker host: the sleeper (its overlay set on the proxy) and the
 * waker, listening on the gateway address of the proxy's network — the one address of berth's host the
 * proxy container can always reach, and one no other host can.
 */
export function startSleep(w: SleepWiring): { sleeper: Sleeper; stop: () => Promise<void>; address: () => Promise<string | undefined> } {
  const names = proxyNames(w.config.instance);
  // Lock waits and container starts come on top of the health deadline a release gets.
  const wakeTimeoutMs = w.config.healthTimeoutMs;
  const waker = new Waker(
    { wakeHostname: (hostname) => sleeper.wakeHostname(hostname) },
    { ingress: { address: "127.0.0.1", tls: w.config.tls, httpPort: w.config.ingressHttpPort, httpsPort: w.config.ingressHttpsPort }, wakeDeadlineMs: wakeTimeoutMs + 10_000, knows: w.knows, self: w.self, gate: w.gate },
    w.log.child({ component: "waker" }),
  );
  const gateway = async (): Promise<string | undefined> => {
    const info = await w.docker.getNetwork(names.network).inspect().catch(() => undefined);
    return (info as { IPAM?: { Config?: { Gateway?: string }[] } } | undefined)?.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(":"))?.Gateway;
  };
  const address = async (): Promise<string | undefined> => {
    const at = await gateway();
    return at ? waker.listen(at, wakerPort(w.config.instance)) : undefined;
  };
  const sleeper: Sleeper = new Sleeper({
    db: w.db,
    host: w.host,
    proxy: w.proxy,
    log: w.log.child({ component: "sleep" }),
    accessLog: containerAccessLog(w.docker, names.container),
    previewSleepAfterMs: w.config.previewSleepAfterMs,
    waker: () => address(),
    wakeTimeoutMs,
    reporter: w.reporter,
    onSlept: (reason) => w.metrics.slept(reason),
    onWoken: (trigger, seconds) => w.metrics.woke(trigger, seconds),
  });
  w.proxy.overlay = sleeper.overlay;
  // Listening at once, on the port routes already name, serves sleeping hostnames from the first second
  // after a restart; on a fresh host the proxy's network does not exist yet and the first route listens.
  void address().catch((err: unknown) => w.log.warn({ err }, "the waker could not listen yet; it will when a route needs it"));
  return { sleeper, stop: () => waker.close(), address };
}

/**
 * The waker's port on the proxy network's gateway: the same for an installation on every start (from
 * its instance name, so two installations on one host differ), in 20000–29999, below Linux's ephemeral
 * ports (32768 up), which outgoing connections take.
 */
export function wakerPort(instance: string): number {
  return 20_000 + (createHash("sha256").update(instance).digest().readUInt32BE(0) % 10_000);
}

/**
 * What the proxy asks of berth's listener on its network besides waking: certificates on demand (the
 * TLS ask, so a certificate is obtained at the first handshake and only for hostnames berth serves),
 * and berth's own hostname, routed there and handed to berth's HTTP server. BERTH_TLS=internal signs
 * with the proxy's own CA.
 */
export function onTheProxy(proxy: IngressProxy, address: () => Promise<string | undefined>, selfHost: string | undefined, internalCa: boolean, protectedHosts?: () => Promise<ReadonlySet<string>>): void {
  proxy.internalCa = internalCa;
  proxy.askAddress = address;
  const overlay = proxy.overlay;
  if (selfHost) {
    proxy.overlay = async (routes) => {
      const at = await address();
      const all = at ? [...routes, { hostname: selfHost, upstream: at }] : routes;
      return overlay ? overlay(all) : all;
    };
  }
  if (!protectedHosts) return;
  // Protected environments (access: github) are checked on this proxy, the front door of every
  // hostname, by forward_auth to the same listener: droids' proxies never need to reach berth.
  proxy.gateAddress = address;
  const inner = proxy.overlay;
  proxy.overlay = async (routes) => protectRoutes(inner ? await inner(routes) : routes, await protectedHosts());
}
