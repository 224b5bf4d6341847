import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline, Transform, type Readable } from "node:stream";
import tar from "tar-stream";

/** What the filter did: bytes of layer files dropped. */
export interface LayerFilterStats {
  skipped: number;
}

/**
 * A `docker save` archive without the layer files whose diff ID is in `skip` (docker load does not
 * read a layer its engine has on the same parents, so it never misses them). The archive names
 * layers by v1 IDs and lists them in manifest.json only at its end, so each layer file is spooled to
 * a temporary file while its digest (its diff ID: layer files are uncompressed) is taken, then sent
 * or dropped: memory stays bounded, and the disk (TMPDIR) holds one layer at a time. Spool files
 * are removed whatever happens.
 */
export function withoutLayers(archive: NodeJS.ReadableStream, skip: ReadonlySet<string>, stats: LayerFilterStats): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  const spool = mkdtemp(join(tmpdir(), "berth-layers-"));
  const fail = (e: Error): void => {
    pack.destroy(e);
    extract.destroy(e);
  };
  /** Writes one entry from source; `then` runs once the pack took all of it (tar-stream's entry callback). */
  const emit = (header: tar.Headers, source: NodeJS.ReadableStream, then: () => void): void => {
    const sink = pack.entry(header, (e?: Error | null) => (e ? fail(e) : then()));
    pipeline(source, sink, (e) => e && fail(e));
  };
  let n = 0;
  extract.on("entry", (header: tar.Headers, entry: NodeJS.ReadableStream, next: (e?: unknown) => void) => {
    if (!header.name.endsWith("/layer.tar")) {
      emit(header, entry, next);
      return;
    }
    void spool.then((dir) => {
      const file = join(dir, String(n++));
      const hash = createHash("sha256");
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      pipeline(entry, hashing, createWriteStream(file), (e) => {
        if (e) return fail(e);
        const done = (): void => {
          void rm(file, { force: true });
          next();
        };
        if (skip.has(`sha256:${hash.digest("hex")}`)) {
          stats.skipped += header.size ?? 0;
          return done();
        }
        emit(header, createReadStream(file), done);
      });
    }, fail);
  });
  extract.on("finish", () => pack.finalize());
  pipeline(archive, extract, (e) => e && fail(e));
  const cleanup = (): void => void spool.then((dir) => rm(dir, { recursive: true, force: true }), () => undefined);
  pack.once("close", cleanup);
  pack.once("end", cleanup);
  pack.once("error", cleanup);
  return pack;
}
