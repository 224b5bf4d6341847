import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../core/errors.js";
import { parseManifest, type Manifest } from "../manifest/manifest.js";

export const MANIFEST_FILE = "berth.yaml";

/** The repository's berth.yaml, parsed and validated; undefined when there is none. Throws ManifestError. */
export async function readManifestFile(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return parseManifest(text);
}

/** Whether a path exists and is a regular file or directory, as asked. */
export async function exists(path: string, kind: "file" | "directory"): Promise<boolean> {
  try {
    const s = await stat(path);
    return kind === "file" ? s.isFile() : s.isDirectory();
  } catch {
    return false;
  }
}

const MAX_FILE = 1 << 20;

/** Reads the repository files services mount (`files:`), at this commit; each must exist and be at most 1 MiB. */
export async function readServiceFiles(dir: string, manifest: Manifest): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, svc] of Object.entries(manifest.services)) {
    for (const f of svc.files) {
      const path = join(dir, f.source);
      if (!(await exists(path, "file"))) throw new UserError(`services.${name}.files: ${f.source} is not a file in the repository at this commit.`);
      if ((await stat(path)).size > MAX_FILE) throw new UserError(`services.${name}.files: ${f.source} is larger than 1 MiB; bake large files into an image instead.`);
      out[f.source] = await readFile(path, "utf8");
    }
  }
  return out;
}
