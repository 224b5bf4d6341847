import { ManifestError, parseManifest } from "../../manifest/manifest.js";

/** The ManifestError message of a file that must not parse. */
export function errorOf(text: string): string {
  try {
    parseManifest(text);
  } catch (e) {
    if (e instanceof ManifestError) return e.message;
    throw e;
  }
  throw new Error("the manifest parsed");
}
