import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseManifest, type Manifest } from "../core/manifest.js";

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
