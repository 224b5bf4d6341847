import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { pullImage } from "../../releaser/docker-run.js";

/** The two calls of dockerode a pull makes, with a registry that never finishes sending. */
function stalledDocker(stream: PassThrough): never {
  const followProgress = (s: NodeJS.ReadableStream, done: (err: Error | null) => void): void => {
    s.on("end", () => done(null));
    s.on("error", done);
  };
  return { pull: async () => stream, modem: { followProgress } } as never;
}

it("gives up on an image pull at its deadline and closes the stream", async () => {
  const stream = new PassThrough();
  stream.write('{"status":"Downloading"}\n');
  const started = Date.now();
  await expect(pullImage(stalledDocker(stream), "postgres:16", "droid1", 200)).rejects.toThrow(
    "pulling postgres:16 on droid1 took over 200ms; berth gave up (is the registry reachable and answering from there?)",
  );
  expect(Date.now() - started).toBeLessThan(2000);
  expect(stream.destroyed).toBe(true);
});

it("finishes a pull that ends in time", async () => {
  const stream = new PassThrough();
  setTimeout(() => stream.end(), 20);
  stream.resume();
  await expect(pullImage(stalledDocker(stream), "redis:7", "droid1", 5000)).resolves.toBeUndefined();
});
