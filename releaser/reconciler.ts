import type { Droid } from "./fleet.js";
import { recheckDomains, type DomainDeps } from "./domains.js";
import { closeEnvironment, openPreviews, pendingTeardowns } from "../store/environment-store.js";
import { prNumberOf } from "../core/names.js";
import { systemClock, type Clock } from "../core/clock.js";
import { repoRef, type GitHubReporter } from "../github/github-reporter.js";
import { learnVisibility } from "./repo-visibility.js";
import { listApps } from "../store/queries.js";
import { healOnce, type HttpFailures } from "./autoheal.js";
import { resendLostReports } from "../github/lost-reports.js";
import { finishDrains } from "./finish-drains.js";
import { finishSwitches } from "./finish-switches.js";
import { findStrays } from "./teardown-plan.js";
import { applyRoutes, ensureProxy } from "./routes.js";
import { lockKeys, withLockIfFree } from "../store/locks.js";
import { removeResources, teardownEnvironment, type TeardownDeps } from "./teardown.js";

export interface ReconcilerDeps extends TeardownDeps {
  github: GitHubReporter;
  previewTtlMs: number;
  /** Decides which previews expired; the system clock unless a test passes its own. */
  clock?: Clock;
  /** HTTP health failures carried from pass to pass. */
  httpFailures?: HttpFailures;
  /** Custom domains are checked again every pass; absent: not checked. */
  domains?: DomainDeps;
  /** Sleeping environments (releaser/sleep.ts); absent: nothing sleeps. */
  sleeper?: { pass(): Promise<string[]> };
}

export interface PassReport {
  skipped?: boolean;
  closed: string[];
  expired: string[];
  tornDown: string[];
  strays: string[];
  healed: string[];
  /** Deployments a release that died during or right after its switch left unrecorded, recorded live. */
  finished: number[];
  /** Old releases a release that died mid-drain (or before it) left running. */
  drained: string[];
  /** Finished deployments whose outcome never reached their check run, sent again. */
  resent: number[];
  /** Servers whose engine did not answer: skipped this pass. */
  down: string[];
  /** Environments put to sleep for want of requests. */
  slept?: string[];
}

/**
 * One level-triggered pass: previews whose PR GitHub says is closed, or with no push for the TTL, are
 * closed; closed previews whose teardown never finished are torn down; resources on the droid server
 * that belong to no open preview are removed. Whatever events were missed, the next pass converges.
 */
export async function reconcileOnce(deps: ReconcilerDeps): Promise<PassReport> {
  const report: PassReport = { closed: [], expired: [], tornDown: [], strays: [], healed: [], finished: [], drained: [], resent: [], down: [] };
  // One pass at a time across all berth processes; a busy lock means another process is at it.
  const ran = await withLockIfFree(deps.db, lockKeys.reconcile(), () => pass(deps, report));
  return ran ? report : { ...report, skipped: true };
}

async function pass(deps: ReconcilerDeps, report: PassReport): Promise<void> {
  const now = (deps.clock ?? systemClock).now();
  // Before routes are applied below: a repository found public opens its previews in this pass.
  await learnVisibility(deps.db, deps.github, deps.log);
  // One listing of open pull requests per app and pass keeps the API budget flat however many previews run.
  const openPulls = new Map<number, Promise<Set<number> | undefined>>();
  for (const { env, app } of await openPreviews(deps.db)) {
    const label = `${app.name}/${env.name}`;
    if (now - env.last_push_at.getTime() > (await ttlFor(deps, app.id, env.name))) {
      if (await closeEnvironment(deps.db, app.id, env.name, "expired")) report.expired.push(label);
      continue;
    }
    const pr = prNumberOf(env.name);
    if (pr === undefined) continue;
    if (!openPulls.has(app.id)) {
      openPulls.set(
        app.id,
        deps.github.openPullNumbers(repoRef(app)).catch((err: unknown) => {
          deps.log.warn({ err, app: app.name }, "could not ask GitHub which pull requests are open");
          return undefined;
        }),
      );
    }
    const open = await openPulls.get(app.id);
    if (open && !open.has(pr) && (await closeEnvironment(deps.db, app.id, env.name, "closed"))) report.closed.push(label);
  }

  for (const { env, app } of await pendingTeardowns(deps.db)) {
    const expired = env.state === "expired";
    const ttl = await ttlFor(deps, app.id, env.name);
    const days = Math.round(ttl / 86_400_000);
    const note = expired
      ? `This preview had no push for ${days >= 1 ? `${days} day${days === 1 ? "" : "s"}` : `${Math.round(ttl / 1000)}s`} and was removed. Push a commit to bring it back.`
      : "The pull request was closed, so its preview was removed. Reopen it to bring the preview back.";
    try {
      if (await teardownEnvironment(deps, app, env.name, expired ? "expired" : "removed", note)) report.tornDown.push(`${app.name}/${env.name}`);
    } catch (err) {
      deps.log.error({ err, app: app.name, environment: env.name }, "teardown failed; the next pass retries");
    }
  }

  const open = new Set((await openPreviews(deps.db)).map(({ env, app }) => `${app.name}/${env.name}`));
  const known = new Set((await listApps(deps.db)).map((a) => a.name));
  // Before the routes: a domain whose DNS was fixed (or broken) is routed (or not) by this same pass.
  if (deps.domains) await recheckDomains(deps.domains, deps.db, deps.log).catch((err: unknown) => deps.log.warn({ err }, "custom domain checks failed"));
  const fleet = deps.fleet;
  const droids = fleet ? await fleet.all() : [{ shown: "local", host: deps.host, proxy: deps.proxy }];
  const reached: ReconcilerDeps[] = [];
  for (const droid of droids) {
    if (fleet && droid !== fleet.local) {
      // A droid that does not answer is recorded down and skipped; the pass after it comes back converges it.
      const down = await fleet.reachable(droid as Droid).then(() => undefined, (e: Error) => e.message);
      if (down) {
        report.down.push(droid.shown);
        deps.log.warn({ server: droid.shown, error: down }, "server unreachable: skipped this pass");
        continue;
      }
    }
    const on = { ...deps, host: droid.host, proxy: droid.proxy, ...(fleet ? { frontDoor: fleet } : {}) };
    reached.push(on);
    const strays = findStrays(await on.host.listManaged({}), (app, environment) => open.has(`${app}/${environment}`));
    for (const s of strays) {
      deps.log.warn({ ...s, knownApp: known.has(s.app), server: droid.shown }, "removing stray preview resources");
      await removeResources(on, s.app, s.environment);
      report.strays.push(`${s.app}/${s.environment}`);
    }
    // The proxy converges to Postgres every pass: recreated when missing or stopped, routes re-applied
    // (reloaded only when they differ from what this process saw loaded).
    await ensureProxy(on);
    await applyRoutes(on);
  }
  // After the routes: a release that died between its switch and the proxy reload is recorded live, and
  // its predecessor drained, only once the proxy routes to it.
  report.finished = await finishSwitches(deps);
  for (const on of reached) report.drained.push(...(await finishDrains(on)));
  report.resent = await resendLostReports(deps);
  for (const on of reached) report.healed.push(...(await healOnce(on, deps.httpFailures ?? new Map())));
  if (deps.sleeper) report.slept = await deps.sleeper.pass();
}

/** A preview's time to live: its latest berth.yaml's previews.expire_after when set there, else BERTH_PREVIEW_TTL. */
async function ttlFor(deps: ReconcilerDeps, appId: number, environment: string): Promise<number> {
  const row = await deps.db
    .selectFrom("deployments")
    .select("manifest")
    .where("app_id", "=", appId)
    .where("environment", "=", environment)
    .where("manifest", "is not", null)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.manifest?.previews.expireAfterMs ?? deps.previewTtlMs;
}

/** Runs reconcileOnce every interval until stopped; a failing pass is logged and the next one tries again. */
export function startReconciler(reconcilerDeps: ReconcilerDeps, intervalMs: number, onPass?: (report: Awaited<ReturnType<typeof reconcileOnce>> | "failed") => void): { stop: () => Promise<void> } {
  const deps = { ...reconcilerDeps, httpFailures: reconcilerDeps.httpFailures ?? new Map<string, number>() };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = (): void => {
    running = reconcileOnce(deps)
      .then((r) => {
        onPass?.(r);
        if (r.closed.length + r.expired.length + r.tornDown.length + r.strays.length + r.healed.length + r.finished.length + r.drained.length + r.resent.length + (r.slept?.length ?? 0) > 0) deps.log.info(r, "reconciler pass");
      })
      .catch((err: unknown) => {
        onPass?.("failed");
        deps.log.error({ err }, "reconciler pass failed");
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, Math.min(intervalMs, 5_000));
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
