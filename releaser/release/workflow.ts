import type { ReleaseDeps } from "./deps.js";
import type { App, Deployment, Release } from "../../store/db.js";
import { UserError, lastLines } from "../../core/errors.js";
import { LogWriter } from "../../store/log-writer.js";
import { applyManifestName, restoreName } from "../../store/app-names.js";
import { failRelease, recordRelease, staleReason, switchLive } from "./state.js";
import { LABEL, PRODUCTION, hostnameFor, networkName, publicName, publicUrl, webContainerName } from "../../core/names.js";
import { getDeployment, liveRelease, setDeploymentState, transition } from "../../store/queries.js";
import { lockKeys, withLock } from "../../store/locks.js";
import { appRedactor, audienceOf } from "../../store/secret-store.js";
import { getEnvironment } from "../../store/environment-store.js";
import { applyRoutes, ensureProxy } from "../routes.js";
import { planWebContainer, webPort } from "../container-plan.js";
import { planBerthEnv } from "../app-env.js";
import { systemClock } from "../../core/clock.js";
import { anyAnswer, success, waitHealthy } from "../health-check.js";
import { prepareStack, waitForCommand, type PreparedStack } from "../app-stack.js";
import { retireProcesses, startProcesses } from "../processes.js";
import { planPathRoutes } from "../route-plan.js";
import { pruneImages } from "../image-prune.js";
import { PhaseRecorder, releaseTimes } from "../../store/phases.js";
import { waitServed } from "../served-probe.js";
import { toDroid } from "./target.js";
import { drainOld } from "../drain.js";
import { settleDomains } from "../domains.js";
import { markAwake } from "../../store/sleep-store.js";

export type { ReleaseDeps, ReleaseSettings } from "./deps.js";

/** How long berth watches for the first answer through the proxy after a switch; it never fails a release. */
const SERVED_DEADLINE_MS = 5000;

/**
 * Releases a built deployment: start the new container on the environment's private network, wait
 * until it answers HTTP, switch the route with a graceful proxy reload, then drain and remove the old
 * container. One release per environment at a time (advisory lock); a failing health check leaves the
 * previous release serving.
 */
export async function runRelease(fleetDeps: ReleaseDeps, deploymentId: number, signal?: AbortSignal): Promise<"live" | "failed" | "skipped"> {
  let deps = fleetDeps;
  const found = await getDeployment(deps.db, deploymentId);
  if (!found || found.deployment.state !== "releasing" || !found.deployment.image) return "skipped";
  const { deployment: d } = found;
  let { app } = found;
  return withLock(deps.db, lockKeys.release(app.id, d.environment), async () => {
    const { settings: s, db } = deps;
    // Read again under the lock: the reconciler may have finished a release a dead process switched (finish-switches.ts).
    if ((await getDeployment(db, d.id))?.deployment.state !== "releasing") return "skipped";
    const clock = deps.clock ?? systemClock;
    const phases = new PhaseRecorder(db, clock, d.id);
    const logs = LogWriter.forDeployment(db, d.id).redactWith(await appRedactor(db, deps.secretBox, app.id));
    const stale = await staleReason(db, app.id, d.id, d.environment);
    if (stale) {
      if (await transition(db, d.id, ["releasing"], "cancelled", { error: stale.summary })) deps.reporter.cancelled(app, d, stale.title, stale.summary);
      logs.note(`not released: ${stale.summary}`);
      await logs.end();
      return "skipped";
    }
    const image = d.image ?? "";
    const previous = await liveRelease(db, app.id, d.environment);
    const where = (a: App) => {
      const hostname = hostnameFor(publicName(a), d.environment, s.domain);
      return { hostname, url: publicUrl(hostname, s.tls, s.ingressHttpPort, s.ingressHttpsPort) };
    };
    // Production's berth.yaml names the app; a preview's proposes a name only once merged.
    const named = app.public_name;
    // Where the previous release serves: after a failed rename, still under the old name.
    const servingUrl = where(app).url;
    if (d.environment === PRODUCTION) {
      const before = publicName(app);
      try {
        app = await applyManifestName(db, app, d.manifest?.name);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        return reportFailure(deps, { app, d, ...where(app), servingUrl, image, previous, logs, phases }, e, "Release failed before the switch");
      }
      if (publicName(app) !== before) logs.note(`app renamed from ${before} to ${publicName(app)} (berth.yaml name): production moves to ${where(app).hostname}`);
    }
    const { hostname, url } = where(app);
    if (deps.fleet) {
      // On the droid the environment lives on, with the image moved there from the builder's engine.
      try {
        deps = { ...deps, ...(await toDroid({ db, registry: deps.registry, defaultMemoryBytes: s.appLimits?.memoryBytes }, deps.fleet, app, d, logs)), frontDoor: deps.fleet };
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        return reportFailure(deps, { app, d, hostname, url, servingUrl, image, previous, logs, phases }, e, "Release failed: the server is not available");
      }
    }
    const domains = deps.domains && d.environment === PRODUCTION ? await settleDomains(deps.domains, db, app, d.manifest).catch((e: Error) => [`custom domains were not checked: ${e.message}`]) : [];
    for (const line of domains) logs.note(line);
    if (d.rollback_of !== null && !(await deps.host.imageExposedPorts(image).then(() => true, () => false))) {
      const e = new UserError(`The image ${image} is no longer on the droid server: berth keeps the images of the last BERTH_KEEP_IMAGES releases. Roll back to a more recent deployment, or push that commit again to rebuild it.`);
      return reportFailure(deps, { app, d, hostname, url, servingUrl, image, previous, logs, phases }, e, "Rollback failed: the image is gone");
    }
    if (d.rollback_of !== null) logs.note(`rolling back to ${image} (deployment ${d.rollback_of})`);

    // A retry after a crash past the switch finds its own release live: finish it, never restart it.
    const switching = previous?.deployment_id !== d.id;
    if (switching) {
      deps.reporter.progress(app, d, "Releasing");
      const outcome = await startAndSwitch(deps, { app, d, hostname, url, servingUrl, image, previous, logs, phases }, signal).catch(async (e: unknown) => {
        if (app.public_name !== named) await restoreName(db, app.id, named).catch(() => undefined);
        throw e;
      });
      if (outcome === "failed") {
        // Production still serves under the old name: keep it, so no other app can claim its hostname.
        if (app.public_name !== named) await restoreName(db, app.id, named);
        return "failed";
      }
    }

    // Re-applied from Postgres on every attempt: a crash between the switch and the reload left the
    // proxy routing to the release about to be drained (a no-op when this process saw it loaded).
    await ensureProxy(deps);
    await applyRoutes(deps);
    // "First served" times this attempt's switch; a retry after a dead process's switch has none to time.
    if (switching && deps.served && (await waitServed(deps.served, hostname, SERVED_DEADLINE_MS, 20, clock))) phases.mark("first_served");
    await phases.flush();
    await setDeploymentState(db, d.id, "live", { url });
    const current = (await getDeployment(db, d.id))?.deployment ?? d;
    deps.reporter.succeeded(app, current, { url, image, ...releaseTimes(current), domains });
    await drainOld(deps, app, d.environment, logs);
    await phases.mark("drained").flush();
    await retireProcesses(deps.host, app.name, d.environment, (id) => id !== String(d.id));
    await pruneImages(deps, app.id, app.name, s.keepImages).catch((err: unknown) => deps.log.warn({ err }, "image prune failed"));
    // The builder's engine keeps the app's images too, when the environment lives on a droid.
    const builderHost = deps.fleet?.local.host;
    if (builderHost && builderHost !== deps.host) await pruneImages({ ...deps, host: builderHost }, app.id, app.name, s.keepImages).catch((err: unknown) => deps.log.warn({ err }, "image prune failed"));
    await logs.end();
    return "live";
  });
}

interface ReleaseContext {
  app: App;
  d: Deployment;
  hostname: string;
  url: string;
  /** Where the previous release serves (the old name's URL while a rename is under way). */
  servingUrl: string;
  image: string;
  previous: Release | undefined;
  logs: LogWriter;
  phases: PhaseRecorder;
}

/**
 * Starts the new container, waits for HTTP, and switches the route to it. A container that never
 * answers is removed, the previous release stays live, and the deployment fails with the log tail.
 */
async function startAndSwitch(deps: ReleaseDeps, c: ReleaseContext, signal?: AbortSignal): Promise<"switched" | "failed"> {
  const { settings: s, host, db } = deps;
  const clock = deps.clock ?? systemClock;
  const { app, d, hostname, url, image, previous, logs } = c;
  const network = networkName(app.name, d.environment);
  await ensureProxy(deps);
  await host.ensureNetwork(network, { [LABEL.managed]: "true", [LABEL.app]: app.name, [LABEL.environment]: d.environment });
  await deps.proxy.attach(network);

  const manifest = d.manifest ?? undefined;
  const port = manifest?.web.port ?? webPort(await host.imageExposedPorts(image));
  c.phases.mark("image_ready");
  const containerName = webContainerName(app.name, d.environment, d.sha, d.id);
  const berthEnv = planBerthEnv({ publicName: publicName(app), environment: d.environment, sha: d.sha, url });
  let stack: PreparedStack | undefined;
  try {
    const audience = audienceOf(d.environment, await getEnvironment(db, app.id, d.environment));
    if (manifest) stack = await prepareStack({ db, host, secretBox: deps.secretBox, app, environment: d.environment, network, image, berthEnv, logs, timeoutMs: s.healthTimeoutMs, defaultLimits: s.appLimits, files: d.files ?? {}, rollback: d.rollback_of !== null, audience, clock }, manifest);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return reportFailure(deps, c, e, "Release failed before the switch");
  }
  const plan = planWebContainer({
    app: app.name,
    environment: d.environment,
    sha: d.sha,
    deploymentId: d.id,
    image,
    containerName,
    network,
    port,
    berthEnv,
    command: manifest?.web.command,
    env: stack?.env,
    resources: manifest?.web.resources,
    defaultLimits: s.appLimits,
    volumes: stack?.volumes,
    healthcheck: manifest?.web.healthcheck?.kind === "command" ? manifest.web.healthcheck : undefined,
  });

  const leftover = await host.inspectContainer(containerName); // a crashed attempt's, never live (checked above)
  if (leftover) await host.removeContainer(leftover.id);
  logs.note(`starting ${containerName} (port ${port})`);
  const containerId = await host.createContainer(plan);
  for (const shared of stack?.sharedNetworks ?? []) await host.connect(shared, containerId); // before start: its first lookups must resolve
  const release = await recordRelease(db, { deployment_id: d.id, app_id: app.id, environment: d.environment, server: host.name, image, hostname, container_id: containerId, container_name: containerName });

  try {
    await host.startContainer(containerId);
    c.phases.mark("container_started");
    const check = manifest?.web.healthcheck;
    const started = clock.now();
    const ready =
      check?.kind === "command"
        ? waitForCommand(host, containerId, check.command, check.timeoutMs ?? s.healthTimeoutMs, "the web container", clock)
        : waitHealthy(
            (ms) => host.probeHttp({ container: containerId, network, port, path: check?.path ?? "/" }, ms),
            { port, path: check?.path ?? "/", accept: check ? success : anyAnswer },
            check?.timeoutMs ?? s.healthTimeoutMs,
            Math.min(check?.intervalMs ?? 100, 1000),
            signal,
            clock,
          );
    await ready.catch(async (e: Error) => {
      const tail = await host.logsTail(containerId, 50);
      throw new UserError(`The new container did not become healthy: ${e.message}. Check that the app listens on 0.0.0.0:${port}.`, lastLines(tail, 50) || "(the container printed nothing)");
    });
    c.phases.mark("healthy");
    logs.note(`healthy after ${clock.now() - started}ms`);
    if (manifest && Object.keys(manifest.processes).length > 0) {
      await startProcesses(host, { manifest, app, d, image, network, sharedNetworks: stack?.sharedNetworks ?? [], env: { ...stack?.env, ...berthEnv }, logs, timeoutMs: s.healthTimeoutMs, defaultLimits: s.appLimits, clock });
    }
    // Routed by name, not address: Docker's DNS keeps it right when a restart hands out new addresses.
    const paths = manifest ? planPathRoutes(manifest, { app: app.name, environment: d.environment, sha: d.sha, deploymentId: d.id, webContainer: containerName, servicesEnvironment: stack?.sharedNetworks.length ? PRODUCTION : undefined }) : [];
    await switchLive(db, release, previous, `${containerName}:${port}`, paths);
    // A release wakes a sleeping environment (after its switch: dying in between leaves it asleep, whole).
    await markAwake(db, app.id, d.environment);
    await applyRoutes(deps);
    c.phases.mark("route_switched");
    logs.note(`routed ${hostname} to ${containerName}`);
    return "switched";
  } catch (e) {
    await retireProcesses(host, app.name, d.environment, (id) => id === String(d.id));
    await failRelease(db, release, previous);
    await host.removeContainer(containerId);
    if (!(e instanceof UserError)) {
      await applyRoutes(deps).catch(() => undefined);
      logs.note(`berth error: ${(e as Error).message}`);
      await logs.end();
      throw e;
    }
    return reportFailure(deps, c, e, "Release failed: the new container never became healthy");
  }
}

/** A user error before or during the switch: the previous release keeps serving; say why on GitHub. */
async function reportFailure(deps: ReleaseDeps, c: ReleaseContext, e: UserError, title: string): Promise<"failed"> {
  await c.phases.flush();
  c.logs.note(e.message);
  await c.logs.end();
  // Container log tails and release-command output are the app's own text: they may print secrets.
  const message = c.logs.redact(e.message);
  await setDeploymentState(deps.db, c.d.id, "failed", { error: message });
  deps.reporter.failed(c.app, c.d, {
    title,
    message,
    detail: e.detail === undefined ? undefined : c.logs.redact(e.detail),
    detailTitle: "Log (last lines)",
    previousLive: Boolean(c.previous),
    url: c.servingUrl,
  });
  return "failed";
}
