import { createHash } from "node:crypto";

/** The chain IDs of a layer stack (diff IDs, bottom first): what Docker identifies a layer on its parents by. */
function chainIds(diffIds: readonly string[]): string[] {
  const chains: string[] = [];
  for (const [i, diffId] of diffIds.entries()) {
    chains.push(i === 0 ? diffId : `sha256:${createHash("sha256").update(`${chains[i - 1]} ${diffId}`).digest("hex")}`);
  }
  return chains;
}

/**
 * The diff IDs of an image's layers that `docker load` on the target will not read, because the
 * target has each of them on the same parents already (images there share the stack, e.g. the app's
 * previous release). A diff ID that also sits on a stack the target lacks is sent, since load would
 * read its file there.
 */
export function layersToSkip(layers: readonly string[], onTarget: readonly (readonly string[])[]): Set<string> {
  const present = new Set(onTarget.flatMap((stack) => chainIds(stack)));
  const chains = chainIds(layers);
  const needed = new Set(layers.filter((_, i) => !present.has(chains[i]!)));
  return new Set(layers.filter((d) => !needed.has(d)));
}
