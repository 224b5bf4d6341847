import { open, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { UserError } from "../core/errors.js";

/** Largest berth.yaml, Dockerfile or service file berth reads from a checkout. */
export const MAX_CHECKOUT_FILE = 1 << 20;

/**
 * A checked-out repository: everything berth reads from it goes through here, so every path a
 * repository names (berth.yaml, build.context, build.dockerfile, services.*.files) resolves — symlinks
 * followed — inside the checkout and is a regular file or directory of bounded size. A symlink to a
 * host path or a device fails the deployment naming the path; nothing outside is ever opened.
 */
export class Checkout {
  private constructor(readonly root: string) {}

  /** The checkout at dir (its real path, so that comparisons see through symlinked temp dirs). */
  static async at(dir: string): Promise<Checkout> {
    return new Checkout(await realpath(dir));
  }

  /**
   * The real path of rel inside the checkout, or undefined when nothing is there. Throws a UserError
   * when it leads outside (by `..` or a symlink) or is something other than the kind asked for.
   */
  async resolve(rel: string, kind: "file" | "directory", what: string): Promise<string | undefined> {
    if (isAbsolute(rel) || rel.includes("\0")) throw new UserError(`${what}: ${rel} must be a path relative to the repository root.`);
    let real: string;
    try {
      real = await realpath(join(this.root, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      if (code === "ELOOP") throw new UserError(`${what}: ${rel} is a symbolic link loop.`);
      throw e;
    }
    if (!this.contains(real)) throw new UserError(`${what}: ${rel} leads outside the repository (through a symbolic link or ..); berth reads only files inside the checkout.`);
    const s = await stat(real);
    if (kind === "file" && !s.isFile()) throw new UserError(`${what}: ${rel} is not a regular file.`);
    if (kind === "directory" && !s.isDirectory()) throw new UserError(`${what}: ${rel} is not a directory.`);
    return real;
  }

  /** The text of a regular file inside the checkout, at most maxBytes; undefined when it does not exist. */
  async readText(rel: string, what: string, maxBytes = MAX_CHECKOUT_FILE): Promise<string | undefined> {
    const path = await this.resolve(rel, "file", what);
    if (!path) return undefined;
    // Read through one handle with a hard cap: the file may change between a size check and the read.
    const handle = await open(path, "r");
    try {
      const buf = Buffer.alloc(maxBytes + 1);
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > maxBytes) throw new UserError(`${what}: ${rel} is larger than ${formatBytes(maxBytes)}.`);
      return buf.subarray(0, filled).toString("utf8");
    } finally {
      await handle.close();
    }
  }

  private contains(real: string): boolean {
    const rel = relative(this.root, real);
    return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${Math.round(n / 1024)} KiB`;
}
