import { mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { App, Db } from "../store/db.js";
import type { SecretBox } from "../core/secret-box.js";
import { openSecrets, requireSecrets } from "../store/secret-store.js";
import type { Sensitive } from "../core/sensitive.js";
import type { DeploymentReporter } from "../github/deployment-reporter.js";
import { UserError } from "../core/errors.js";
import type { GitHubReporter } from "../github/github-reporter.js";
import { LogWriter } from "../store/log-writer.js";
import type { Logger } from "../core/logger.js";
import { publicName } from "../core/names.js";
import { getDeployment, liveRelease, setDeploymentState, transition } from "../store/queries.js";
import { ManifestError, manifestAnnotations, type Resources } from "../manifest/manifest.js";
import { planDockerBuild } from "./build-plan.js";
import { MANIFEST_FILE, exists, readManifestFile, readServiceFiles } from "./read-manifest.js";
import { ProgressTicker } from "./build-progress.js";
import { touchesWatched } from "./watch-plan.js";
import { detectStrategy, planPackBuild, type Strategy } from "./pack-plan.js";
import type { BuildkitBuilder } from "./buildkit-builder.js";
import type { PackBuilder } from "./pack-builder.js";
import type { DockerBuilder } from "./docker-builder.js";
import type { SourceFetcher } from "./source-fetcher.js";

export interface BuildDeps {
  db: Db;
  github: GitHubReporter;
  reporter: DeploymentReporter;
  fetcher: SourceFetcher;
  builder: DockerBuilder;
  /** Dockerfile builds that mount build secrets run on the engine's BuildKit; absent: the engine is not on a unix socket. */
  buildkit?: BuildkitBuilder;
  /** Opens the app's secrets; absent: this berth has no BERTH_SECRET_KEY. */
  secretBox?: SecretBox;
  /** Where sources are checked out for the length of a build. */
  workDir: string;
  /** How long a build may run unless its berth.yaml says otherwise. */
  buildTimeoutMs: number;
  pack: PackBuilder;
  /** Default buildpacks builder image; berth.yaml's build.builder overrides it per app. */
  packBuilder: string;
  /** How often a running build's check run shows its step and log tail; 0: never. */
  progressIntervalMs: number;
  /** Limits of a build's RUN steps; berth.yaml's build.resources overrides them field by field. */
  buildResources: Resources;
  log: Logger;
}

export type BuildOutcome = "built" | "failed" | "skipped" | "cancelled";

/**
 * Builds one deployment: fetch the exact sha, build its Dockerfile into `berth/<app>:<sha>`, stream the
 * log into Postgres. A user error (no Dockerfile, a failing step) fails the check run with the log tail
 * and returns "failed"; anything else is thrown for the queue to retry.
 */
export async function runBuild(deps: BuildDeps, deploymentId: number, signal?: AbortSignal): Promise<BuildOutcome> {
  const found = await getDeployment(deps.db, deploymentId);
  if (!found) return "skipped";
  const { app } = found;
  const { deployment: d } = found;
  // Built before a crash stopped the hand-off: hand it to the release queue again (its job id dedupes).
  if (d.state === "releasing") return "built";
  if (!(await transition(deps.db, d.id, ["queued", "building"], "building"))) return "skipped";

  const logs = new LogWriter(deps.db, d.id);
  const dir = await mkdtemp(join(deps.workDir, `${app.name}-${d.sha.slice(0, 7)}-`));
  try {
    logs.note(`fetching ${app.repo_full_name} at ${d.sha}`);
    const token = await deps.github.installationToken(app.installation_id);
    await deps.fetcher.fetch({ cloneUrl: d.clone_url, sha: d.sha, token }, dir, signal);
    const manifest = await readManifestFile(dir);
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
    const contextDir = join(dir, build?.context ?? ".");
    if (!(await exists(contextDir, "directory"))) {
      throw new UserError(`build.context "${build?.context}" in ${MANIFEST_FILE} is not a directory of the repository at ${d.sha.slice(0, 7)}.`);
    }
    const dockerfile = build?.dockerfile ?? "Dockerfile";
    const strategy = detectStrategy(build?.strategy, await exists(join(contextDir, dockerfile), "file"));
    if (strategy === "dockerfile" && !(await exists(join(contextDir, dockerfile), "file"))) {
      const where = build && build.context !== "." ? `${build.context}/${dockerfile}` : dockerfile;
      throw new UserError(`No ${where} in ${app.repo_full_name} at ${d.sha.slice(0, 7)}: add one that EXPOSEs the port your app listens on.`);
    }
    const files = manifest ? await readServiceFiles(dir, manifest) : {};
    await deps.db
      .updateTable("deployments")
      .set({ manifest: manifest ? JSON.stringify(manifest) : null, files: JSON.stringify(files) })
      .where("id", "=", d.id)
      .execute();
    const plan = planDockerBuild({
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
    });
    const secrets = await buildSecrets(deps, app, build?.secrets ?? [], strategy);
    const engine = secrets ? "BuildKit, with build secrets " + Object.keys(secrets).join(", ") : dockerfile;
    logs.note(`building ${plan.image} (${strategy === "buildpacks" ? `buildpacks, builder ${build?.builder ?? deps.packBuilder}` : engine})`);
    const started = Date.now();
    const ticker = new ProgressTicker(deps.progressIntervalMs, () => logs.tail(), (p) => deps.reporter.buildProgress(app, d, p)).start();
    const limitMs = build?.timeoutMs ?? deps.buildTimeoutMs;
    const timeout = AbortSignal.timeout(limitMs);
    try {
      const limit = signal ? AbortSignal.any([signal, timeout]) : timeout;
      if (strategy === "buildpacks") {
        const pack = planPackBuild({ app: app.name, sha: d.sha, deploymentId: d.id, contextDir, builder: build?.builder ?? deps.packBuilder, env: build?.args ?? {} });
        logs.note(`${pack.file} ${pack.args.join(" ")}`);
        await deps.pack.build(pack, logs.write, limit);
      } else if (secrets) {
        if (!deps.buildkit) throw new UserError(`build.secrets need a BuildKit session, which berth opens only on a Docker engine reached through its unix socket; this builder's BERTH_DOCKER_HOST is remote. Its operator can run a builder on the droid host.`);
        await deps.buildkit.build(plan, logs.write, limit, secrets);
      } else {
        await deps.builder.build(plan, logs.write, limit);
      }
    } catch (e) {
      if (timeout.aborted && !signal?.aborted) {
        throw new UserError(`The build took longer than ${formatMs(limitMs)} and was stopped (build.timeout in ${MANIFEST_FILE}, default ${formatMs(deps.buildTimeoutMs)}).`);
      }
      throw e;
    } finally {
      ticker.stop();
    }
    logs.note(`built ${plan.image} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
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
    logs.note(e.message);
    await logs.flush();
    await setDeploymentState(deps.db, d.id, "failed", { error: e.message });
    const live = await liveRelease(deps.db, app.id, d.environment);
    const invalid = e instanceof ManifestError;
    deps.reporter.failed(app, d, {
      title: invalid ? `${MANIFEST_FILE} is invalid` : "Build failed",
      annotations: invalid ? manifestAnnotations(e.issues, MANIFEST_FILE) : undefined,
      message: e.message,
      detail: e.detail ?? logs.tail(),
      detailTitle: "Build log (last lines)",
      previousLive: Boolean(live),
      url: live ? `the previous release (${live.image})` : undefined,
    });
    return "failed";
  } finally {
    await logs.flush();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The values of berth.yaml's build.secrets, for BuildKit to mount into RUN steps; undefined when the
 * build has none. A missing value stops the build before it starts, saying how to set it.
 */
async function buildSecrets(deps: BuildDeps, app: App, names: readonly string[], strategy: Strategy): Promise<Record<string, Sensitive> | undefined> {
  if (names.length === 0) return undefined;
  if (strategy === "buildpacks") {
    throw new UserError(`build.secrets in ${MANIFEST_FILE} are mounted into Dockerfile RUN steps (RUN --mount=type=secret,id=NAME); this app builds with buildpacks, which cannot mount them. Add a Dockerfile or remove build.secrets.`);
  }
  if (!deps.secretBox) throw new UserError(`${MANIFEST_FILE} declares build secrets, but this berth has no BERTH_SECRET_KEY to keep them: its operator must set one.`);
  // BuildKit on the engines berth targets ignores build resource limits: the operator's must not be escapable.
  if (deps.buildResources.memoryBytes || deps.buildResources.cpus) {
    throw new UserError(`build.secrets need BuildKit, which cannot enforce the build limits this berth sets (BERTH_BUILD_MEMORY / BERTH_BUILD_CPUS), so builds with secrets are refused here. Remove build.secrets, or ask the operator to lift the limits.`);
  }
  const all = await openSecrets(deps.db, deps.secretBox, app.id);
  requireSecrets(names, all, publicName(app));
  return Object.fromEntries(names.map((name) => [name, all.get(name)!]));
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}
