import { pipeline, Transform } from "node:stream";
import { LABEL } from "../core/names.js";
import type { DockerHost } from "./docker-host.js";
import { layersToSkip } from "./layers-to-skip.js";
import { withoutLayers } from "./without-layers.js";

/** How long moving one image may take, end to end. */
export const TRANSFER_TIMEOUT_MS = 15 * 60_000;

/**
 * How an image got to the target: it was there, through the registry, or streamed engine to engine
 * (bytes sent, and bytes of layer files left out because the target had them).
 */
export type TransferResult = { via: "present" } | { via: "registry"; as: string } | { via: "stream"; bytes: number; skipped: number };

/**
 * Makes the image `ref`, built on `from`, present on `to` under the same name. Nothing happens when
 * it is there already. With a registry (BERTH_REGISTRY, `host[:port][/path]`), `from` pushes it as
 * `<registry>/<ref>` and `to` pulls that, so each side sends only the layers the other lacks; the
 * registry name is untagged on both engines after. Without one the image streams engine to engine
 * through berth (`docker save` piped into `docker load`: the load request reads the save response at
 * the target's pace, so memory stays bounded whatever the image's size; bench/image-transfer saw
 * +28 MB RSS for 200 MB), leaving out the layers the target has under the app's other images (its
 * earlier releases). Either way the whole move has one deadline, and its error names both servers.
 * Concurrent moves of one image between the same two servers in this process share one (two
 * environments releasing one commit).
 */
export function transferImage(
  ref: string,
  from: DockerHost,
  to: DockerHost,
  options: { registry?: string; timeoutMs?: number } = {},
): Promise<TransferResult> {
  const key = JSON.stringify([from.name, to.name, ref]);
  const running = inFlight.get(key);
  if (running) return running;
  const move = transfer(ref, from, to, options).finally(() => inFlight.delete(key));
  inFlight.set(key, move);
  return move;
}

const inFlight = new Map<string, Promise<TransferResult>>();

async function transfer(ref: string, from: DockerHost, to: DockerHost, options: { registry?: string; timeoutMs?: number }): Promise<TransferResult> {
  if (from === to) return { via: "present" };
  const deadline = Date.now() + (options.timeoutMs ?? TRANSFER_TIMEOUT_MS);
  const left = (): number => Math.max(1, deadline - Date.now());
  try {
    if (await to.hasImage(ref)) return { via: "present" };
    const result = options.registry ? await viaRegistry(ref, from, to, options.registry, left) : await viaStream(ref, from, to, left);
    if (!(await to.hasImage(ref))) throw new Error(`${ref} is still missing there afterwards`);
    return result;
  } catch (e) {
    throw new Error(`moving image ${ref} from server ${from.name} to ${to.name} failed: ${(e as Error).message}`, { cause: e });
  }
}

async function viaRegistry(ref: string, from: DockerHost, to: DockerHost, registry: string, left: () => number): Promise<TransferResult> {
  const as = `${registry.replace(/\/+$/, "")}/${ref}`;
  await from.tagImage(ref, as);
  try {
    await from.pushImage(as, left());
    await to.ensureImage(as, left());
    await to.tagImage(as, ref);
  } finally {
    // The registry's name was only the way there: untag it (the image stays under ref).
    await from.removeImage(as).catch(() => undefined);
    await to.removeImage(as).catch(() => undefined);
  }
  return { via: "registry", as };
}

async function viaStream(ref: string, from: DockerHost, to: DockerHost, left: () => number): Promise<TransferResult> {
  const skip = await layersTheTargetHas(ref, from, to);
  const stats = { skipped: 0 };
  const saved = await from.saveImage(ref);
  const archive = skip.size > 0 ? withoutLayers(saved, skip, stats) : saved;
  let bytes = 0;
  // Counts in a transform: a "data" listener would start the flow before the load request reads it.
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // pipeline, not pipe: a failing save (its engine gone) destroys the load's body and so its request.
  pipeline(archive, counted, () => undefined);
  await to.loadImage(counted, left());
  return { via: "stream", bytes, skipped: stats.skipped };
}

/** Diff IDs of ref's layers that `to` has on the same parents, as far as the app's other images there show. */
async function layersTheTargetHas(ref: string, from: DockerHost, to: DockerHost): Promise<Set<string>> {
  const image = await from.inspectImage(ref);
  if (!image) throw new Error(`${ref} is not on ${from.name}`);
  const app = image.labels[LABEL.app];
  if (!app) return new Set();
  // A few are plenty: releases of one app share all but their top layers.
  const others = (await to.listImages({ [LABEL.app]: app })).slice(0, 8);
  const stacks = await Promise.all(others.map((other) => to.inspectImage(other)));
  return layersToSkip(image.layers, stacks.flatMap((s) => (s ? [s.layers] : [])));
}
