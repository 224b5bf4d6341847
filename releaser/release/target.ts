import { UserError } from "../../core/errors.js";
import { PRODUCTION, publicName } from "../../core/names.js";
import type { App, Deployment } from "../../store/db.js";
import type { LogWriter } from "../../store/log-writer.js";
import type { Fleet } from "../fleet.js";
import { transferImage } from "../image-transfer.js";
import { placeEnvironment } from "../placement.js";
import type { Db } from "../../store/db.js";
import type { DockerHost } from "../docker-host.js";
import type { IngressProxy } from "../ingress-proxy.js";

/**
 * The droid this release goes to (placing the environment at its first release) and the image on it:
 * its engine is checked within a bound first, so a dead droid fails the release in seconds with its
 * name and error, and holds up nothing else.
 */
export async function toDroid(deps: { db: Db; registry?: string; defaultMemoryBytes?: number }, fleet: Fleet, app: App, d: Deployment, logs: LogWriter): Promise<{ host: DockerHost; proxy: IngressProxy }> {
  const what = d.environment === PRODUCTION ? `${publicName(app)}'s production` : `${publicName(app)}'s ${d.environment}`;
  const droid = await placeEnvironment(deps.db, fleet, app.id, d.environment, d.manifest, what, deps.defaultMemoryBytes);
  // Built here, or by a builder on another host on its own engine (a registered server).
  const builder = d.built_on ? await fleet.get(d.built_on) : fleet.local;
  if (droid === builder) return { host: droid.host, proxy: droid.proxy };
  if (droid !== fleet.local) await fleet.reachable(droid);
  const image = d.image ?? "";
  const started = Date.now();
  try {
    const moved = await transferImage(image, builder.host, droid.host, { registry: deps.registry });
    if (moved.via !== "present") logs.note(`image moved from server ${builder.shown} to ${droid.shown} ${moved.via === "registry" ? `through ${deps.registry}` : `streamed, ${(moved.bytes / 1e6).toFixed(1)} MB sent`} in ${Date.now() - started}ms`);
  } catch (e) {
    throw new UserError(`The image could not be moved to server ${droid.shown}: ${(e as Error).message}`);
  }
  return { host: droid.host, proxy: droid.proxy };
}

