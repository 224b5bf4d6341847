import { ManifestError } from "./manifest-error.js";
import { readManifest } from "./schema.js";
import type { Manifest } from "./types.js";
import { readYaml } from "./yaml.js";

/*
 * berth.yaml, the app manifest: parsing, validation and the normalized types planners take. This is
 * the module to import; the other files in manifest/ are its parts.
 */

export type * from "./types.js";
export { ManifestError, formatIssue, manifestAnnotations, type ManifestAnnotation, type ManifestIssue } from "./manifest-error.js";
export { expandReferences, parseTemplate, type ParsedTemplate, type Reference } from "./references.js";
export { splitCommand } from "./command.js";
export { parseDuration, parseMemory } from "./units.js";
export { accessFor, type AccessFacts } from "./access.js";

/**
 * Parses and validates the text of berth.yaml, applying every default (an empty file is valid).
 * Throws a ManifestError listing every problem found, each with its key path and line, in file order.
 */
export function parseManifest(text: string): Manifest {
  const source = readYaml(text);
  // Syntax errors and broken aliases leave holes in the data; validating it would only add noise.
  if (source.issues.length > 0) throw new ManifestError(source.issues);
  const { manifest, issues } = readManifest(source.value, source.lines);
  // Cross-checks run after the keys they check, so sort (stably) to read top to bottom like the file.
  if (issues.length > 0 || !manifest) throw new ManifestError([...issues].sort((a, b) => a.line - b.line));
  return manifest;
}
