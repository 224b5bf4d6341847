import { UserError } from "../core/errors.js";
import type { Db, EngineFacts, Server } from "../store/db.js";
import { findServer, listServers, LOCAL_RELEASE_SERVER, recordServerCheck } from "../store/server-store.js";
import { getPlacement } from "../store/placement-store.js";
import type { DockerHost } from "./docker-host.js";
import type { DroidIngress } from "./ingress-plan.js";
import type { IngressProxy } from "./ingress-proxy.js";
import type { FrontDoor } from "./routes.js";

/** One server berth releases to: its engine, its proxy, and where the front door reaches that proxy. */
export interface Droid {
  /** The name releases and placements carry: "default" for the built-in server, else the registered name. */
  server: string;
  /** The name operators see: "local" for the built-in server. */
  shown: string;
  host: DockerHost;
  proxy: IngressProxy;
  /**
   * The droid proxy's address as the front door reaches it (host:port), and the key the front door
   * shows it (X-Berth-Front-Door), without which it answers no protected hostname; absent for the
   * front door itself.
   */
  ingress?: DroidIngress;
  /** Asks its engine for its facts within a bound: what placement and the reachability check read. */
  check(): Promise<{ engine: EngineFacts } | { error: string }>;
}

/** Makes the driver of a registered server; called again when its row changes (re-registered). */
export type DroidFactory = (row: Server) => Droid;

/**
 * Every server berth releases to: the built-in one (BERTH_DOCKER_HOST, whose proxy is the front door)
 * and the registered droids, whose drivers are made on first use and kept while their row is the
 * same. State lives in Postgres (servers, placements); this only caches clients.
 */
export class Fleet implements FrontDoor {
  readonly #made = new Map<string, { key: string; droid: Droid }>();

  constructor(
    private readonly db: Db,
    readonly local: Droid,
    private readonly make: DroidFactory,
  ) {}

  /** The front door's engine and proxy (FrontDoor). */
  get host(): DockerHost {
    return this.local.host;
  }

  get proxy(): IngressProxy {
    return this.local.proxy;
  }

  /** The droid a release server name means; a UserError when no such server is registered (any more). */
  async get(server: string): Promise<Droid> {
    if (server === LOCAL_RELEASE_SERVER) return this.local;
    const row = await findServer(this.db, server);
    if (!row) throw new UserError(`Server ${server} is not registered (any more): \`berth servers add\` it again, or move the app with POST /api/v1/apps/{app}/move.`);
    return this.#driver(row);
  }

  /** Where an environment lives: its placement, else the server of its newest release, else local. */
  async of(appId: number, environment: string): Promise<Droid> {
    const placed = await getPlacement(this.db, appId, environment);
    if (placed) return this.get(placed);
    const last = await this.db
      .selectFrom("releases")
      .select("server")
      .where("app_id", "=", appId)
      .where("environment", "=", environment)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return last ? this.get(last.server) : this.local;
  }

  /** The built-in server and every registered one. */
  async all(): Promise<Droid[]> {
    return [this.local, ...(await listServers(this.db)).map((row) => this.#driver(row))];
  }

  /** Where the front door sends a hostname that lives on this server (FrontDoor); undefined for local. */
  async ingressOf(server: string): Promise<DroidIngress | undefined> {
    if (server === LOCAL_RELEASE_SERVER) return undefined;
    const row = await findServer(this.db, server);
    return row ? this.#driver(row).ingress : undefined;
  }

  /**
   * Checks that a droid's engine answers, within the probe's bound, and records the outcome on its
   * row (what GET /api/v1/servers and placement read). A UserError naming the server when it does not.
   */
  async reachable(droid: Droid): Promise<EngineFacts> {
    const outcome = await droid.check();
    if (droid !== this.local) await recordServerCheck(this.db, droid.server, outcome);
    if ("error" in outcome) throw new UserError(`Server ${droid.shown} cannot be reached: ${outcome.error}`);
    return outcome.engine;
  }

  #driver(row: Server): Droid {
    const key = `${row.docker_url}\n${row.tls_sealed ?? ""}\n${row.created_at.getTime()}`;
    const made = this.#made.get(row.name);
    if (made?.key === key) return made.droid;
    const droid = this.make(row);
    this.#made.set(row.name, { key, droid });
    return droid;
  }
}
