import { systemClock, type Clock } from "../core/clock.js";
import type { App, Db } from "../store/db.js";
import { UserError, lastLines } from "../core/errors.js";
import type { LogWriter } from "../store/log-writer.js";
import type { Manifest } from "../manifest/manifest.js";
import { LABEL, PRODUCTION, networkName, publicName } from "../core/names.js";
import type { SecretBox } from "../core/secret-box.js";
import { openSecrets, type SecretAudience } from "../store/secret-store.js";
import { resolveAppEnv, resolveServiceEnv } from "./app-env.js";
import type { AppLimits } from "../core/config.js";
import { limits, type VolumeSpec } from "./container-plan.js";
import type { DockerHost } from "./docker-host.js";
import { SPEC_LABEL, planServiceContainer, serviceContainerName, volumeName } from "./service-plan.js";

export interface StackContext {
  db: Db;
  host: DockerHost;
  secretBox?: SecretBox;
  app: App;
  environment: string;
  network: string;
  image: string;
  /** berth's own variables, given to the release command as to web. */
  berthEnv: Record<string, string>;
  logs: LogWriter;
  timeoutMs: number;
  /** The operator's limits (BERTH_APP_*) for containers whose berth.yaml sets none. */
  defaultLimits?: AppLimits;
  /** Repository files services mount, by repository path, as read at the commit. */
  files: Readonly<Record<string, string>>;
  /** A rollback to an earlier release: its release command ran when it was first released. */
  rollback?: boolean;
  /** Whose code this is: decides which secret values it sees and whether it may share production's services. */
  audience: SecretAudience;
  clock?: Clock;
}

/** What the web container gets from the manifest once the stack around it is up. */
export interface PreparedStack {
  env: Record<string, string>;
  volumes: VolumeSpec[];
  /** Networks the app's containers join besides their own: production's, for a preview sharing its services. */
  sharedNetworks: string[];
}

/**
 * Brings up what the web container depends on, in the manifest's order: secrets resolved (a missing
 * one stops here), volumes, services (started, or left alone when their definition did not change,
 * and healthy), then the release command in a fresh container of the new image.
 */
export async function prepareStack(c: StackContext, manifest: Manifest): Promise<PreparedStack> {
  if (manifest.secrets.length > 0 && !c.secretBox) {
    throw new UserError("berth.yaml declares secrets, but this berth has no BERTH_SECRET_KEY to keep them: its operator must set one.");
  }
  const secrets = c.secretBox ? await openSecrets(c.db, c.secretBox, c.app.id, c.audience) : new Map();
  const env = resolveAppEnv(manifest, c.environment, publicName(c.app), secrets, c.audience);
  const labels = { [LABEL.managed]: "true", [LABEL.app]: c.app.name, [LABEL.environment]: c.environment };
  const mount = (m: { volume: string; path: string; readOnly: boolean }): VolumeSpec => ({ name: volumeName(c.app.name, c.environment, m.volume), path: m.path, readOnly: m.readOnly });
  for (const v of manifest.volumes) await c.host.ensureVolume(volumeName(c.app.name, c.environment, v), { ...labels, "berth.volume": v });

  const shared = c.environment !== PRODUCTION && Object.keys(manifest.services).length > 0 && (await previewsShareServices(c, manifest));
  if (shared) await requireProductionServices(c, manifest);
  const services = shared ? {} : manifest.services;
  await removeUndeclaredServices(c, new Set(Object.keys(services)));
  for (const [name, svc] of Object.entries(services)) {
    const files = Object.fromEntries(svc.files.map((f) => [f.path, c.files[f.source] ?? ""]));
    const options = planServiceContainer({
      files,
      healthcheck: svc.healthcheck,
      app: c.app.name,
      environment: c.environment,
      name,
      network: c.network,
      image: svc.image,
      command: svc.command,
      env: resolveServiceEnv(svc.env, secrets),
      resources: svc.resources,
      defaultLimits: c.defaultLimits,
      volumes: svc.volumes.map(mount),
    });
    const containerName = serviceContainerName(c.app.name, c.environment, name);
    const existing = await c.host.inspectContainer(containerName);
    const unchanged = existing?.labels[SPEC_LABEL] === options.Labels?.[SPEC_LABEL];
    if (existing?.running && unchanged) continue;
    if (existing && unchanged) {
      // Stopped (a sleeping environment, releaser/sleep.ts): started as it is, so data in its anonymous volumes stays.
      c.logs.note(`starting stopped service ${name}`);
      await c.host.startContainer(existing.id);
      if (svc.healthcheck) await waitForCommand(c.host, containerName, svc.healthcheck.command, svc.healthcheck.timeoutMs ?? c.timeoutMs, `service ${name}`, c.clock);
      continue;
    }
    if (existing) await c.host.removeContainer(existing.id);
    c.logs.note(`starting service ${name} (${svc.image})`);
    await c.host.ensureImage(svc.image);
    const id = await c.host.createContainer(options);
    for (const [path, content] of Object.entries(files)) await c.host.putFile(id, path, content);
    await c.host.startContainer(id);
    if (svc.healthcheck) await waitForCommand(c.host, containerName, svc.healthcheck.command, svc.healthcheck.timeoutMs ?? c.timeoutMs, `service ${name}`, c.clock);
    c.logs.note(`service ${name} is up`);
  }

  if (manifest.release && c.rollback) {
    // Migrations of older code must not run against the schema newer code left behind.
    c.logs.note("not running the release command: this is a rollback, and it ran when this version was first released");
  } else if (manifest.release && shared) {
    // A pull request's migrations must not run against the database production uses.
    c.logs.note(`not running the release command: with previews.services: shared it would run against production's services; they are migrated by the default branch's releases`);
  } else if (manifest.release) {
    c.logs.note(`running release command: ${manifest.release.join(" ")}`);
    const r = await c.host.runOnce(
      {
        Image: c.image,
        Cmd: manifest.release,
        Env: Object.entries({ ...env, ...c.berthEnv }).map(([k, v]) => `${k}=${v}`),
        Labels: { ...labels, [LABEL.role]: "release" },
        // Bounded on disk as app containers are: the release command prints what it likes.
        HostConfig: { Init: true, NetworkMode: c.network, LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "1" } }, ...limits(undefined, c.defaultLimits), ...(manifest.web.volumes.length ? { Mounts: manifest.web.volumes.map(mount).map((v) => ({ Type: "volume" as const, Source: v.name, Target: v.path, ReadOnly: v.readOnly })) } : {}) },
      },
      c.timeoutMs * 5,
    );
    c.logs.write(r.output.endsWith("\n") || !r.output ? r.output : `${r.output}\n`);
    if (r.exitCode !== 0) {
      throw new UserError(`The release command \`${manifest.release.join(" ")}\` exited with ${r.exitCode}; nothing was switched.`, lastLines(r.output, 40) || "(no output)");
    }
  }
  return { env, volumes: manifest.web.volumes.map(mount), sharedNetworks: shared ? [networkName(c.app.name, PRODUCTION)] : [] };
}

/**
 * Removes this environment's service containers berth.yaml no longer declares, as `compose up
 * --remove-orphans` does; for a preview that now shares production's, all of its own, or their names
 * would keep resolving to them. Their volumes stay (data outlives a definition) until the environment goes.
 */
async function removeUndeclaredServices(c: StackContext, wanted: ReadonlySet<string>): Promise<void> {
  const { containers } = await c.host.listManaged({ [LABEL.app]: c.app.name, [LABEL.environment]: c.environment, [LABEL.role]: "service" });
  for (const old of containers) {
    const name = old.labels["berth.service"] ?? old.name;
    if (wanted.has(name)) continue;
    c.logs.note(`removing service ${name}: no longer declared for ${c.environment}`);
    await c.host.removeContainer(old.id);
  }
}

/**
 * Whether previews use production's services is production's call: the default branch's live berth.yaml
 * decides, so a pull request cannot hand itself production's database by editing its own copy.
 */
async function previewsShareServices(c: StackContext, manifest: Manifest): Promise<boolean> {
  if (c.audience === "untrusted-preview") {
    // Whatever any berth.yaml says: a fork's or a bot's code never reaches production's data.
    c.logs.note("this preview runs code from a fork or a bot, so it gets its own services, never production's");
    return false;
  }
  const live = await c.db
    .selectFrom("releases")
    .innerJoin("deployments", "deployments.id", "releases.deployment_id")
    .select("deployments.manifest")
    .where("releases.app_id", "=", c.app.id)
    .where("releases.environment", "=", PRODUCTION)
    .where("releases.state", "=", "live")
    .executeTakeFirst();
  const shared = live?.manifest?.previews.services === "shared";
  if (!shared && manifest.previews.services === "shared") {
    c.logs.note("previews.services: shared in this pull request's berth.yaml takes effect once it is live on the default branch; this preview gets its own services");
  }
  return shared;
}

/** A preview sharing production's services needs them running: it joins their network and uses them as they are. */
async function requireProductionServices(c: StackContext, manifest: Manifest): Promise<void> {
  for (const name of Object.keys(manifest.services)) {
    const info = await c.host.inspectContainer(serviceContainerName(c.app.name, PRODUCTION, name));
    if (!info?.running) {
      throw new UserError(`berth.yaml sets previews.services: shared, but production's service ${name} is not running: deploy the default branch first, or use previews.services: fresh.`);
    }
  }
  c.logs.note(`previews.services: shared: using production's ${Object.keys(manifest.services).join(", ")} (this preview's own volumes stay its own)`);
}

/** Runs a health command in a container until it exits 0, or fails with its last output. */
export async function waitForCommand(host: DockerHost, container: string, command: string[], timeoutMs: number, what: string, clock: Clock = systemClock): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  let last = "";
  while (clock.now() < deadline) {
    try {
      // An attempt that hangs must not outlive the deadline of the whole wait.
      await host.exec(container, command, { timeoutMs: Math.max(1000, deadline - clock.now()) });
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await clock.sleep(250);
  }
  throw new UserError(`${what} did not become healthy within ${Math.round(timeoutMs / 1000)}s: \`${command.join(" ")}\` kept failing.`, last);
}
