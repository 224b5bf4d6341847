import type { Logger } from "../core/logger.js";
import type { Sensitive } from "../core/sensitive.js";
import { isStaleTask } from "./container-start.js";
import type { DockerHost } from "./docker-host.js";
import { planIngress, renderCaddyfile, type Route } from "./ingress-plan.js";
import {
  CADDYFILE_PATH,
  PROXY_SPEC_LABEL,
  planProxyContainer,
  planProxyReload,
  proxyNames,
  proxySpecKey,
  kernelMigratesRequests,
  MIGRATE_REQUESTS,
  type ProxySpec,
} from "./proxy-plan.js";
import { DEFAULT_INSTANCE, LABEL } from "../core/names.js";

/** Rewrites the desired routes before they are rendered: sleeping environments (releaser/sleep.ts). */
export type RouteOverlay = (routes: readonly Route[]) => Promise<readonly Route[]>;

/** Keeps a droid server's ingress proxy running and swaps its whole config in on every change. */
export class IngressProxy {
  /** Applied to every route table this proxy renders; set once at wiring, absent: routes as given. */
  overlay: RouteOverlay | undefined;
  /** BERTH_TLS=internal: certificates from Caddy's own CA, for private networks and tests. */
  internalCa = false;
  /**
   * Where Caddy asks berth whether a hostname may have a certificate (on-demand TLS: obtained at the
   * first handshake, only for hostnames berth serves); absent or undefined: certificates for every
   * listed hostname at load, as before.
   */
  askAddress: (() => Promise<string | undefined>) | undefined;
  /** Where the proxy asks berth whether a request to a protected site may pass; undefined: protected sites answer 503. */
  gateAddress: (() => Promise<string | undefined>) | undefined;
  /** A droid's proxy: the key the front door shows it; protected sites answer only requests with it (IngressConfig.frontDoorKey). */
  frontDoorKey: Sensitive | undefined;
  readonly #names: ReturnType<typeof proxyNames>;
  /** The config this process last saw the proxy load; unknown after a start, so the first apply always reloads. */
  #loaded: string | undefined;
  /** The operator's spec plus what the server's kernel allows, once asked. */
  #spec: ProxySpec | undefined;

  constructor(
    private readonly host: DockerHost,
    private readonly spec: ProxySpec,
    private readonly tls: boolean,
    private readonly log: Logger,
    /** A droid's proxy: with TLS its sites answer plain HTTP too, for the front door in front of it. */
    private readonly plainHttp = false,
  ) {
    this.#names = proxyNames(spec.instance ?? DEFAULT_INSTANCE);
  }

  /** The proxy container's name on its server. */
  get container(): string {
    return this.#names.container;
  }

  /** Creates and starts the proxy if it is missing or stopped, with the given routes as its first config. */
  async ensure(routes: readonly Route[], networks: readonly string[]): Promise<void> {
    this.#spec ??= { ...this.spec, migrateRequests: kernelMigratesRequests(await this.host.kernelVersion()) };
    const spec = this.#spec;
    let existing = await this.host.inspectContainer(this.#names.container);
    if (existing && existing.labels[PROXY_SPEC_LABEL] !== proxySpecKey(spec)) {
      // The operator changed the proxy image or ports, or berth its settings: recreate it (app networks are attached again).
      this.log.warn({ was: existing.labels[PROXY_SPEC_LABEL], now: proxySpecKey(spec) }, "recreating ingress proxy with new settings");
      await this.host.removeContainer(existing.id);
      existing = undefined;
    }
    if (existing?.running) return;
    await this.host.ensureNetwork(this.#names.network, { [LABEL.managed]: "true" });
    if (!existing) {
      if (!spec.migrateRequests) this.log.warn("this server's kernel is older than 5.14: a config reload can reset a few new connections");
      this.log.info({ image: spec.image }, "creating ingress proxy");
      await this.host.createContainer(planProxyContainer(spec));
    } else {
      this.log.warn("ingress proxy was stopped: starting it again");
    }
    const caddyfile = await this.#render(routes);
    try {
      await this.#start(caddyfile, networks);
    } catch (e) {
      const refusedSysctl = spec.migrateRequests === true && String((e as Error).message).includes("tcp_migrate_req");
      if (!refusedSysctl && !(existing && isStaleTask(e))) throw e;
      // A runtime that refuses the sysctl (a sandboxed one) gets the proxy without it. Or containerd holds
      // a task for it that an engine killed in the middle of starting it left behind, which no start of
      // this container gets past. Its volumes keep what it holds, so a new one takes its place.
      this.log.warn({ err: e }, refusedSysctl ? `the engine refuses ${MIGRATE_REQUESTS}: recreating the proxy without it` : "ingress proxy cannot be started again on this engine: recreating it");
      if (refusedSysctl) this.#spec = { ...spec, migrateRequests: false };
      const id = existing?.id ?? (await this.host.inspectContainer(this.#names.container))?.id;
      if (id) await this.host.removeContainer(id);
      await this.host.createContainer(planProxyContainer(this.#spec));
      await this.#start(caddyfile, networks);
    }
    this.#loaded = caddyfile; // Caddy reads it as it starts
  }

  /** Config and app networks first (a created container can join them), so it routes from its first request. */
  async #start(caddyfile: string, networks: readonly string[]): Promise<void> {
    await this.host.putFile(this.#names.container, CADDYFILE_PATH, caddyfile);
    for (const network of networks) await this.host.connect(network, this.#names.container);
    await this.host.startContainer(this.#names.container);
  }

  /** Lets the proxy reach an app environment's private network. */
  async attach(network: string): Promise<void> {
    await this.host.connect(network, this.#names.container);
  }

  /**
   * Renders the config for these routes in full and reloads gracefully; a refused config leaves the
   * old one serving. A config this process already saw loaded is not reloaded again, so reconciler
   * passes can re-apply routes every time at no cost; after a restart the first apply always reloads
   * (a crash between writing the file and the reload must not leave Caddy on the old routes).
   */
  async apply(routes: readonly Route[]): Promise<void> {
    const caddyfile = await this.#render(routes);
    if (caddyfile === this.#loaded) return;
    this.#loaded = undefined;
    await this.host.putFile(this.#names.container, CADDYFILE_PATH, caddyfile);
    // Right after start, Caddy's admin endpoint may not listen yet: retry briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.host.exec(this.#names.container, planProxyReload(), { timeoutMs: 60_000 });
        this.#loaded = caddyfile;
        return;
      } catch (e) {
        if (attempt >= 20 || !/connection refused|dial tcp/i.test(String((e as Error).message))) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async #render(routes: readonly Route[]): Promise<string> {
    const plan = planIngress(this.overlay ? await this.overlay(routes) : routes, this.tls, this.plainHttp);
    const ask = this.tls && this.askAddress ? await this.askAddress().catch(() => undefined) : undefined;
    const auth = this.gateAddress ? await this.gateAddress().catch(() => undefined) : undefined;
    return renderCaddyfile({ ...plan, internalCa: this.tls && this.internalCa, ...(ask ? { ask } : {}), ...(auth ? { auth } : {}), ...(this.frontDoorKey ? { frontDoorKey: this.frontDoorKey } : {}) });
  }
}
