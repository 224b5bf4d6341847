import type { AppLimits } from "../../core/config.js";
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../../core/logger.js";
import type { SecretBox } from "../../core/secret-box.js";
import type { DeploymentReporter } from "../../github/deployment-reporter.js";
import type { Db } from "../../store/db.js";
import type { DockerHost } from "../docker-host.js";
import type { DomainDeps } from "../domains.js";
import type { Fleet } from "../fleet.js";
import type { IngressProxy } from "../ingress-proxy.js";
import type { FrontDoor } from "../routes.js";
import type { ServedProbe } from "../served-probe.js";

/** What a release needs: the stores, the servers and their proxies, and the operator's settings. */
export interface ReleaseSettings {
  domain: string;
  tls: boolean;
  ingressHttpPort: number;
  ingressHttpsPort: number;
  healthTimeoutMs: number;
  drainMs: number;
  /** Images of this many recent releases per environment are kept for rollbacks. */
  keepImages: number;
  /** Limits of app containers where berth.yaml sets none (BERTH_APP_MEMORY, _CPUS, _PIDS). */
  appLimits?: AppLimits;
}

export interface ReleaseDeps {
  db: Db;
  /** Opens app secrets for containers; absent when berth has no BERTH_SECRET_KEY. */
  secretBox?: SecretBox;
  host: DockerHost;
  proxy: IngressProxy;
  reporter: DeploymentReporter;
  settings: ReleaseSettings;
  log: Logger;
  /** Health deadlines and the drain; the system clock unless a test passes its own. */
  clock?: Clock;
  /** Asks the front-door proxy for a hostname, as a user would: times "first served". Absent: not timed. */
  served?: ServedProbe;
  /**
   * Every server berth releases to. Present: each environment is placed on one (host and proxy above
   * are then the built-in server's, where builds leave their images) and images move there. Absent:
   * host is the only server.
   */
  fleet?: Fleet;
  /** BERTH_REGISTRY: images reach droids through it; absent, they stream engine to engine. */
  registry?: string;
  /** Set per release from the fleet: routes on a droid are also forwarded by the front door. */
  frontDoor?: FrontDoor;
  /** Checks production's custom domains before its switch; absent: domains are not routed. */
  domains?: DomainDeps;
}
