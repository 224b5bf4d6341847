import { mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { App, Db, Deployment } from "../store/db.js";
import type { SecretBox } from "../core/secret-box.js";
import { appRedactor, audienceOf, openSecrets, requireSecrets } from "../store/secret-store.js";
import { getEnvironment } from "../store/environment-store.js";
import type { Sensitive } from "../core/sensitive.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { UserError } from "../core/errors.js";
import type { GitHubReporter } from "../github/github-reporter.js";
import { LogWriter } from "../store/log-writer.js";
import type { Logger } from "../core/logger.js";
import { systemClock, type Clock } from "../core/clock.js";
import { foreignImage, imageRef, publicName } from "../core/names.js";
import { getDeployment, liveRelease, setDeploymentState, transition } from "../store/queries.js";
import { ManifestError, manifestAnnotations, type Manifest, type Resources } from "../manifest/manifest.js";
import { MANIFEST_FILE, readManifestFile, readServiceFiles } from "./read-manifest.js";
import { Checkout } from "./checkout.js";
import { imageReferences } from "./dockerfile-refs.js";
import { ProgressTicker } from "./progress-ticker.js";
import { touchesWatched } from "./watch-plan.js";
import { detectStrategy } from "./pack-plan.js";
import { describeEngine, engineUnavailable, planBuild } from "./strategy-plan.js";
import type { BuildPlan, Builders } from "./builder.js";
import type { SourceFetcher } from "./source-fetcher.js";
import { cloneUrlFor } from "../github/source-url.js";
import { PhaseRecorder } from "../store/phases.js";
import { LOCAL_RELEASE_SERVER } from "../store/server-store.js";

export interface BuildDeps {
  db: Db;
  github: GitHubReporter;
  reporter: DeploymentReporter;
  fetcher: SourceFetcher;
  /** The engines this process builds with; the strategy planner picks one per build. */
  builders: Builders;
  /** Opens the app's secrets; absent: this berth has no BERTH_SECRET_KEY. */
  secretBox?: SecretBox;
  /** The configured GitHub's web URL (github.com or GHE_HOST): sources are fetched from there, never from a payload's URL. */
  githubWebUrl: string;
  /** Where sources are checked out for the length of a build. */
  workDir: string;
  /** How long a build may run unless its berth.yaml says otherwise. */
  buildTimeoutMs: number;
  /** Default buildpacks builder image; berth.yaml's build.builder overrides it per app. */
  packBuilder: string;
  /** How often a running build's check run shows its step and log tail; 0: never. */
  progressIntervalMs: number;
  /** Limits of a build's RUN steps; berth.yaml's build.resources overrides them field by field. */
  buildResources: Resources;
  log: Logger;
  clock?: Clock;
  /** The server this process's engine is registered as (BERTH_BUILDER_SERVER); absent: the built-in one. */
  server?: string;
}

export type BuildOutcome = "built" | "failed" | "skipped" | "cancelled";

/**
 * Builds one deployment: fetch the exact sha, plan the build (Dockerfile, BuildKit or buildpacks) into
 * `berth/<app>:<sha>-<deployment>`, stream the log into Postgres. A user error (no Dockerfile, a failing step) fails
 * the check run with the log tail and returns "failed"; anything else is thrown for the queue to retry.
 */
export async function runBuild(deps: BuildDeps, deploymentId: number, signal?: AbortSignal): Promise<BuildOutcome> {
  const found = await getDeployment(deps.db, deploymentId);
  if (!found) return "skipped";
  const { app, deployment: d } = found;
  // Built before a crash stopped the hand-off: hand it to the release queue again (its job id dedupes).
  if (d.state === "releasing") return "built";
  // The tag is recorded before it exists, so an image prune running meanwhile keeps it.
  if (!(await transition(deps.db, d.id, ["queued", "building"], "building", { image: imageRef(app.name, d.sha, d.id), built_on: deps.server ?? LOCAL_RELEASE_SERVER }))) return "skipped";

  const logs = LogWriter.forDeployment(deps.db, d.id).redactWith(await appRedactor(deps.db, deps.secretBox, app.id));
  const phases = new PhaseRecorder(deps.db, deps.clock ?? systemClock, d.id).mark("fetch_started");
  const dir = await mkdtemp(join(deps.workDir, `${app.name}-${d.sha.slice(0, 7)}-`));
  try {
    logs.note(`fetching ${app.repo_full_name} at ${d.sha}`);
    const token = await deps.github.installationToken(app.installation_id);
    await deps.fetcher.fetch({ cloneUrl: cloneUrlFor(deps.githubWebUrl, app.repo_full_name), sha: d.sha, token }, dir, signal);
    phases.mark("fetch_done");
    const checkout = await Checkout.at(dir);
    const manifest = await readManifestFile(checkout);
    if (manifest) logs.note(`read ${MANIFEST_FILE}`);
    const build = manifest?.build;
    if (d.environment === "production" && build && !touchesWatched(build.watch, d.changed_paths)) {
      const summary = `This push changed none of the paths in build.watch (${build.watch.map((w) => `\`${w}\``).join(", ")}), so nothing was built or released.`;
      logs.note(summary);
      await setDeploymentState(deps.db, d.id, "skipped");
      deps.reporter.skipped(app, d, "No watched path changed", summary);
      return "skipped";
    }
    deps.reporter.started(app, d);
    const plan = await planCheckout(deps, app, d, checkout, manifest);
    const secrets = plan.engine === "buildkit" ? await buildSecrets(deps, app, d, plan.secretNames) : undefined;
    logs.note(`building ${plan.image} (${describeEngine(plan, build?.builder ?? deps.packBuilder)})`);
    phases.mark("build_started");
    const elapsed = await execute(deps, { app, d, plan, secrets, logs, timeoutMs: build?.timeoutMs ?? deps.buildTimeoutMs }, signal);
    phases.mark("build_done");
    logs.note(`built ${plan.image} in ${(elapsed / 1000).toFixed(1)}s`);
    await phases.flush(); // before the hand-off: the release reads them for its summary
    // A newer commit may have superseded this one while it built: then it is not released.
    return (await transition(deps.db, d.id, ["building"], "releasing", { image: plan.image })) ? "built" : "cancelled";
  } catch (e) {
    if (signal?.aborted) {
      // The superseding side already marked the deployment cancelled and told GitHub.
      logs.note("build stopped: superseded by a newer commit");
      return "cancelled";
    }
    if (!(e instanceof UserError)) {
      logs.note(`berth error: ${(e as Error).message}`);
      throw e;
    }
    await reportFailure(deps, app, d, logs, e);
    return "failed";
  } finally {
    await logs.end();
    await phases.flush().catch((err: unknown) => deps.log.warn({ err }, "phase timings not saved"));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Checks what the checkout holds against berth.yaml, stores the manifest and service files, and plans the build. */
async function planCheckout(deps: BuildDeps, app: App, d: Deployment, checkout: Checkout, manifest: Manifest | undefined): Promise<BuildPlan> {
  const build = manifest?.build;
  const context = build?.context ?? ".";
  const contextDir = await checkout.resolve(context, "directory", "build.context");
  if (!contextDir) {
    throw new UserError(`build.context "${build?.context}" in ${MANIFEST_FILE} is not a directory of the repository at ${d.sha.slice(0, 7)}.`);
  }
  const dockerfile = build?.dockerfile ?? "Dockerfile";
  // The daemon reads the Dockerfile from the context it is sent; it must still be a file of this repository.
  const hasDockerfile = (await checkout.resolve(join(context, dockerfile), "file", "build.dockerfile")) !== undefined;
  const strategy = detectStrategy(build?.strategy, hasDockerfile);
  if (strategy === "dockerfile" && !hasDockerfile) {
    const where = build && build.context !== "." ? `${build.context}/${dockerfile}` : dockerfile;
    throw new UserError(`No ${where} in ${app.repo_full_name} at ${d.sha.slice(0, 7)}: add one that EXPOSEs the port your app listens on.`);
  }
  if (strategy === "dockerfile") await refuseForeignImages(checkout, join(context, dockerfile), build?.args ?? {}, app.name);
  // Files the build tools open themselves, following symlinks: they too must be bounded files of this repository.
  for (const tooling of [".dockerignore", "project.toml"]) await checkout.readText(join(context, tooling), tooling, 256 * 1024);
  const files = manifest ? await readServiceFiles(checkout, manifest) : {};
  await deps.db
    .updateTable("deployments")
    .set({ manifest: manifest ? JSON.stringify(manifest) : null, files: JSON.stringify(files) })
    .where("id", "=", d.id)
    .execute();
  return planBuild({
    strategy,
    docker: {
      app: app.name,
      environment: d.environment,
      sha: d.sha,
      deploymentId: d.id,
      contextDir,
      entries: await readdir(contextDir),
      dockerfile,
      target: build?.target,
      buildArgs: build?.args ?? {},
      resources: { ...deps.buildResources, ...build?.resources },
    },
    packBuilder: build?.builder ?? deps.packBuilder,
    secretNames: build?.secrets ?? [],
    operatorLimits: deps.buildResources,
  });
}

/**
 * Every app's images live on the builder's engine: a Dockerfile must not build on, or copy from,
 * another app's (its code, and whatever its build baked in). Public images and the app's own are fine.
 */
async function refuseForeignImages(checkout: Checkout, path: string, buildArgs: Readonly<Record<string, string>>, app: string): Promise<void> {
  const text = (await checkout.readText(path, "build.dockerfile")) ?? "";
  for (const { ref, line } of imageReferences(text, buildArgs)) {
    const why = foreignImage(ref, app);
    if (why) throw new UserError(`${path.replace(/^\.\//, "")} line ${line} uses ${ref}: ${why}. berth builds only on public images and this app's own.`);
  }
}

interface Execution {
  app: App;
  d: Deployment;
  plan: BuildPlan;
  secrets: Record<string, Sensitive> | undefined;
  logs: LogWriter;
  timeoutMs: number;
}

/** Runs the plan on its engine under the build's deadline, with progress on the check run; the elapsed ms. */
async function execute(deps: BuildDeps, x: Execution, signal?: AbortSignal): Promise<number> {
  const clock = deps.clock ?? systemClock;
  const builder = deps.builders[x.plan.engine];
  if (!builder) throw engineUnavailable(x.plan.engine);
  const started = clock.now();
  const ticker = new ProgressTicker(deps.progressIntervalMs, () => x.logs.tail(), (p) => deps.reporter.buildProgress(x.app, x.d, p)).start();
  const timeout = clock.timeout(x.timeoutMs);
  try {
    await builder.run(x.plan, { log: x.logs.write, signal: signal ? AbortSignal.any([signal, timeout]) : timeout, secrets: x.secrets });
  } catch (e) {
    if (timeout.aborted && !signal?.aborted) {
      throw new UserError(`The build took longer than ${formatMs(x.timeoutMs)} and was stopped (build.timeout in ${MANIFEST_FILE}, default ${formatMs(deps.buildTimeoutMs)}).`);
    }
    throw e;
  } finally {
    ticker.stop();
  }
  return clock.now() - started;
}

/** A user error: the check run fails with the reason and the log tail; a live release keeps serving. */
async function reportFailure(deps: BuildDeps, app: App, d: Deployment, logs: LogWriter, e: UserError): Promise<void> {
  logs.note(e.message);
  await logs.end();
  const message = logs.redact(e.message);
  await setDeploymentState(deps.db, d.id, "failed", { error: message, image: null });
  const live = await liveRelease(deps.db, app.id, d.environment);
  const invalid = e instanceof ManifestError;
  deps.reporter.failed(app, d, {
    title: invalid ? `${MANIFEST_FILE} is invalid` : "Build failed",
    annotations: invalid ? manifestAnnotations(e.issues, MANIFEST_FILE) : undefined,
    message,
    detail: logs.redact(e.detail ?? logs.tail()),
    detailTitle: "Build log (last lines)",
    previousLive: Boolean(live),
    url: live ? `the previous release (${live.image})` : undefined,
  });
}

/** The values of berth.yaml's build.secrets; a missing value stops the build before it starts, saying how to set it. */
async function buildSecrets(deps: BuildDeps, app: App, d: Deployment, names: readonly string[]): Promise<Record<string, Sensitive>> {
  if (!deps.secretBox) throw new UserError(`${MANIFEST_FILE} declares build secrets, but this berth has no BERTH_SECRET_KEY to keep them: its operator must set one.`);
  const audience = audienceOf(d.environment, await getEnvironment(deps.db, app.id, d.environment));
  const all = await openSecrets(deps.db, deps.secretBox, app.id, audience);
  requireSecrets(names, all, publicName(app), audience);
  return Object.fromEntries(names.map((name) => [name, all.get(name)!]));
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}
