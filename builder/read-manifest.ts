import { UserError } from "../core/errors.js";
import { parseManifest, type Manifest } from "../manifest/manifest.js";
import type { Checkout } from "./checkout.js";

export const MANIFEST_FILE = "berth.yaml";

/** Largest berth.yaml berth parses. */
const MAX_MANIFEST = 256 * 1024;

/** The repository's berth.yaml, parsed and validated; undefined when there is none. Throws ManifestError. */
export async function readManifestFile(checkout: Checkout): Promise<Manifest | undefined> {
  const text = await checkout.readText(MANIFEST_FILE, MANIFEST_FILE, MAX_MANIFEST);
  return text === undefined ? undefined : parseManifest(text);
}

/** Reads the repository files services mount (`files:`), at this commit; each must be a file inside the checkout of at most 1 MiB. */
export async function readServiceFiles(checkout: Checkout, manifest: Manifest): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, svc] of Object.entries(manifest.services)) {
    for (const f of svc.files) {
      const text = await checkout.readText(f.source, `services.${name}.files`);
      if (text === undefined) throw new UserError(`services.${name}.files: ${f.source} is not a file in the repository at this commit.`);
      out[f.source] = text;
    }
  }
  return out;
}
