import type { Db } from "../store/db.js";
import type { Logger } from "../core/logger.js";
import { systemClock, type Clock } from "../core/clock.js";
import { LABEL, networkName } from "../core/names.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { getDeployment } from "../store/queries.js";
import { lockKeys, withLock, withLockIfFree } from "../store/locks.js";
import { markAsleep, markAwake, recordRequest, sleepCandidates, type SleepCandidate } from "../store/sleep-store.js";
import type { AccessLogSource } from "./access-log.js";
import type { ContainerInfo, DockerHost } from "./docker-host.js";
import { anyAnswer, success, waitHealthy } from "./health-check.js";
import type { Route } from "./ingress-plan.js";
import type { IngressProxy } from "./ingress-proxy.js";
import { waitForCommand } from "./app-stack.js";
import { applyRoutes } from "./routes.js";
import { overlayRoutes, parseAccessLog, planSleep, sleepAfterFor } from "./sleep-plan.js";

export interface SleeperDeps {
  db: Db;
  host: DockerHost;
  proxy: IngressProxy;
  log: Logger;
  /** The proxy's access log; absent: idle time counts from the last release or wake only. */
  accessLog?: AccessLogSource;
  /** BERTH_PREVIEW_SLEEP_AFTER; null: previews sleep only where their berth.yaml says. */
  previewSleepAfterMs: number | null;
  /** Where the proxy reaches berth's waker (`address:port`); undefined while it does not listen. */
  waker: () => Promise<string | undefined>;
  /** How long a wake may take (containers started and healthy) before it fails. */
  wakeTimeoutMs: number;
  reporter?: DeploymentReporter;
  onSlept?: (reason: SleepReason) => void;
  onWoken?: (trigger: WakeTrigger, seconds: number) => void;
  clock?: Clock;
}

export type SleepReason = "idle" | "api";
export type WakeTrigger = "request" | "api";
/** What asking for a hostname's wake found: woken now, already awake, or no live environment there. */
export type WakeOutcome = "woken" | "awake" | "unknown";

/** Most of the access log one pass reads; a longer backlog is read over the next passes. */
const ACCESS_LOG_BYTES = 4 << 20;
const STOP_SECONDS = 10;
/** Environments woken at once; more wait their turn (their requests stay held). */
const MAX_WAKES = 4;

/**
 * Puts idle environments to sleep and wakes them: asleep means every container of the environment
 * stopped (volumes kept) and its hostname routed to berth's waker. Postgres holds the desired state
 * (environment_sleep.sleeping_at); each reconciler pass reads the proxy's access log for the newest
 * request per hostname, puts environments idle past their sleep_after to sleep, and stops whatever
 * still runs of a sleeping one, so a crash mid-wake ends asleep and a crash after the wake's commit
 * ends awake. Sleeping, waking and releasing one environment are serialized by its release lock.
 */
export class Sleeper {
  readonly #waking = new Map<string, Promise<WakeOutcome>>();
  readonly #queue: (() => void)[] = [];
  #running = 0;
  #cursorMs: number;

  constructor(private readonly deps: SleeperDeps) {
    // Requests from before this process started were recorded by the one before it, if any.
    this.#cursorMs = this.#now() - 60_000;
  }

  /** The route overlay for the proxy (IngressProxy.overlay): sleeping hostnames to the waker, sleepable ones logged. */
  readonly overlay = async (routes: readonly Route[]): Promise<readonly Route[]> => {
    const candidates = await sleepCandidates(this.deps.db, this.deps.host.name);
    const sleeping = new Set(candidates.filter((c) => c.sleepingAt).map((c) => c.hostname));
    const watched = new Set(candidates.filter((c) => !c.sleepingAt && this.#sleepAfter(c) !== null).map((c) => c.hostname));
    const waker = sleeping.size > 0 ? await this.deps.waker() : undefined;
    if (sleeping.size > 0 && !waker) this.deps.log.warn({ hostnames: [...sleeping] }, "the waker does not listen: sleeping environments stay routed to their stopped containers");
    return overlayRoutes(routes, sleeping, watched, waker);
  };

  /** One reconciler step: record requests, put idle environments to sleep, keep sleeping ones stopped. Returns `app/env` of those put to sleep. */
  async pass(): Promise<string[]> {
    await this.#readRequests().catch((err: unknown) => this.deps.log.warn({ err }, "could not read the proxy's access log; idle times come from releases and wakes"));
    const slept: string[] = [];
    const candidates = await sleepCandidates(this.deps.db, this.deps.host.name);
    for (const c of planSleep(candidates, this.#now(), this.deps.previewSleepAfterMs)) {
      if (this.#waking.has(key(c))) continue;
      if (await this.#sleep(c, "idle", false)) slept.push(`${c.app}/${c.environment}`);
    }
    for (const c of candidates.filter((x) => x.sleepingAt && !this.#waking.has(key(x)))) {
      // Converge: a wake that died half way, or a container someone started by hand, is stopped again.
      await withLockIfFree(this.deps.db, lockKeys.release(c.appId, c.environment), async () => {
        const now = (await this.#find(c.appId, c.environment))[0];
        if (now?.sleepingAt) await this.#stopAll(now);
      });
    }
    return slept;
  }

  /** Puts an environment to sleep now (the API); false when it has no live release or already sleeps. */
  async sleepEnvironment(appId: number, environment: string): Promise<boolean> {
    const c = (await this.#find(appId, environment))[0];
    return c ? this.#sleep(c, "api", true) : false;
  }

  /** Wakes an environment now (the API); concurrent callers share one wake. */
  async wakeEnvironment(appId: number, environment: string): Promise<WakeOutcome> {
    const c = (await this.#find(appId, environment))[0];
    return c ? this.#wake(c, "api") : "unknown";
  }

  /** Wakes the environment a hostname routes to (the waker's first request); concurrent requests share one wake. */
  async wakeHostname(hostname: string): Promise<WakeOutcome> {
    const c = (await sleepCandidates(this.deps.db, this.deps.host.name, { hostname }))[0];
    return c ? this.#wake(c, "request") : "unknown";
  }

  #wake(c: SleepCandidate, trigger: WakeTrigger): Promise<WakeOutcome> {
    const k = key(c);
    let wake = this.#waking.get(k);
    if (!wake) {
      wake = this.#inSlot(() => this.#wakeLocked(c, trigger)).finally(() => this.#waking.delete(k));
      this.#waking.set(k, wake);
    }
    return wake;
  }

  /**
   * Runs a wake when one of MAX_WAKES slots is free. Each wake holds a pooled Postgres connection for
   * its lock while it runs queries on others: a burst of first requests to many sleeping hostnames
   * must not take the whole pool (the waker bounds the requests held meanwhile).
   */
  async #inSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#running >= MAX_WAKES) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }

  async #wakeLocked(given: SleepCandidate, trigger: WakeTrigger): Promise<WakeOutcome> {
    return withLock(this.deps.db, lockKeys.release(given.appId, given.environment), async () => {
      const c = (await this.#find(given.appId, given.environment))[0];
      if (!c) return "unknown";
      if (!c.sleepingAt) return "awake";
      const started = this.#now();
      const steps: Record<string, number> = {};
      try {
        await this.#startAll(c);
        steps.startedMs = this.#now() - started;
        await this.#waitHealthy(c, started);
        steps.healthyMs = this.#now() - started;
      } catch (e) {
        // Left asleep: what started is stopped again, and the next request tries anew.
        await this.#stopAll(c).catch(() => undefined);
        throw e;
      }
      // The commit point: from here the environment is awake, whatever happens to this process.
      await markAwake(this.deps.db, c.appId, c.environment, new Date(this.#now()));
      await applyRoutes(this.deps);
      const seconds = (this.#now() - started) / 1000;
      this.deps.log.info({ app: c.app, environment: c.environment, trigger, ...steps, ms: Math.round(seconds * 1000) }, "environment woke");
      this.deps.onWoken?.(trigger, seconds);
      await this.#report(c, false);
      return "woken";
    });
  }

  /** Marks asleep, routes to the waker, then stops the containers: a request in between is held by the waker, which waits for this lock. */
  async #sleep(given: SleepCandidate, reason: SleepReason, wait: boolean): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      const c = (await this.#find(given.appId, given.environment))[0];
      if (!c || c.sleepingAt) return false;
      // Planned before the lock: a request or a release since then restarts the idle time.
      if (reason === "idle" && planSleep([c], this.#now(), this.deps.previewSleepAfterMs).length === 0) return false;
      // Asleep with nothing to wake it, the hostname would answer 502 until the next release.
      if (!(await this.deps.waker())) {
        this.deps.log.warn({ app: c.app, environment: c.environment }, "not putting the environment to sleep: the waker cannot listen (no proxy network yet?)");
        return false;
      }
      if (!(await markAsleep(this.deps.db, c.appId, c.environment))) return false;
      await applyRoutes(this.deps);
      await this.#stopAll(c);
      this.deps.log.info({ app: c.app, environment: c.environment, reason }, "environment fell asleep");
      this.deps.onSlept?.(reason);
      await this.#report(c, true);
      return true;
    };
    const lock = lockKeys.release(given.appId, given.environment);
    if (wait) return withLock(this.deps.db, lock, run);
    return (await withLockIfFree(this.deps.db, lock, run))?.value ?? false;
  }

  async #containers(c: SleepCandidate): Promise<{ services: ContainerInfo[]; others: ContainerInfo[] }> {
    const { containers } = await this.deps.host.listManaged({ [LABEL.app]: c.app, [LABEL.environment]: c.environment });
    const own = containers.filter((x) => ["service", "web", "process"].includes(x.labels[LABEL.role] ?? ""));
    return { services: own.filter((x) => x.labels[LABEL.role] === "service"), others: own.filter((x) => x.labels[LABEL.role] !== "service") };
  }

  /** Services first (web and processes connect to them as they start), then web and processes, each group at once. */
  async #startAll(c: SleepCandidate): Promise<void> {
    const { services, others } = await this.#containers(c);
    await Promise.all(services.filter((x) => !x.running).map((x) => this.deps.host.startContainer(x.id)));
    await Promise.all(others.filter((x) => !x.running).map((x) => this.deps.host.startContainer(x.id)));
  }

  /** The reverse of #startAll: what uses the services stops before them. */
  async #stopAll(c: SleepCandidate): Promise<void> {
    const { services, others } = await this.#containers(c);
    await Promise.all(others.filter((x) => x.running).map((x) => this.deps.host.stopContainer(x.id, STOP_SECONDS)));
    await Promise.all(services.filter((x) => x.running).map((x) => this.deps.host.stopContainer(x.id, STOP_SECONDS)));
  }

  /** The web container's health check, as a release waits for it, polled often: someone's request is waiting. */
  async #waitHealthy(c: SleepCandidate, started: number): Promise<void> {
    if (!c.webContainer) return;
    const remaining = Math.max(1000, this.deps.wakeTimeoutMs - (this.#now() - started));
    const check = c.manifest?.web.healthcheck;
    if (check?.kind === "command") return waitForCommand(this.deps.host, c.webContainer, check.command, remaining, "the web container", this.deps.clock);
    const port = Number((c.upstream ?? "").split(":").pop());
    const path = check?.path ?? "/";
    const target = { container: c.webContainer, network: networkName(c.app, c.environment), port, path };
    await waitHealthy((ms) => this.deps.host.probeHttp(target, ms), { port, path, accept: check ? success : anyAnswer }, remaining, 25, undefined, this.deps.clock);
  }

  /** Reads the access log since the last read and records each sleepable hostname's newest request. */
  async #readRequests(): Promise<void> {
    if (!this.deps.accessLog) return;
    const startedAt = this.#now();
    // A second of overlap: the engine's `since` is in whole seconds, and the newest time wins anyway.
    const { text, truncated } = await this.deps.accessLog.read(this.#cursorMs - 1000, ACCESS_LOG_BYTES);
    const seen = parseAccessLog(text);
    const newest = Math.max(0, ...seen.values());
    // Cut short: continue from the last line read next time, not from now.
    this.#cursorMs = truncated ? Math.max(this.#cursorMs, newest) : startedAt;
    if (seen.size === 0) return;
    const candidates = await sleepCandidates(this.deps.db, this.deps.host.name);
    for (const c of candidates) {
      const at = seen.get(c.hostname);
      if (at !== undefined && at > (c.lastRequestAt?.getTime() ?? 0)) await recordRequest(this.deps.db, c.appId, c.environment, new Date(at));
    }
  }

  async #report(c: SleepCandidate, asleep: boolean): Promise<void> {
    if (!this.deps.reporter || c.environment === "production") return;
    const found = await getDeployment(this.deps.db, c.deploymentId);
    if (!found) return;
    const after = this.#sleepAfter(c);
    const note = asleep ? `No request for ${after === null ? "a while" : humanDuration(after)}, so its containers were stopped. The first request wakes it (in about a second).` : undefined;
    this.deps.reporter.sleeping(found.app, found.deployment, asleep, note);
  }

  #find(appId: number, environment: string): Promise<SleepCandidate[]> {
    return sleepCandidates(this.deps.db, this.deps.host.name, { appId, environment });
  }

  #sleepAfter(c: SleepCandidate): number | null {
    return sleepAfterFor(c.environment, c.manifest, this.deps.previewSleepAfterMs);
  }

  #now(): number {
    return (this.deps.clock ?? systemClock).now();
  }
}

const key = (c: { appId: number; environment: string }): string => `${c.appId}:${c.environment}`;

/** 90s → "90s", 30m → "30m", 2h → "2h": how berth.yaml would write it. */
export function humanDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
