import Docker from "dockerode";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerodeHost } from "../../releaser/dockerode-host.js";
import { transferImage } from "../../releaser/image-transfer.js";
import { removeImagesOfDeadRuns, RUN_LABEL } from "../support/docker-cleanup.js";
import { droidForSuite, startDroid } from "../support/droid.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { uniqueName } from "../support/services.js";

// Images built on this machine's engine reach a simulated remote droid (test/support/droid.sh):
// streamed engine to engine through berth, and through a registry (Debian's docker-registry).
const droid = droidForSuite(() => startDroid());
const local = new Docker({ socketPath: "/var/run/docker.sock" });
const INSTANCE = "berth-itest-transfer";
const builder = new DockerodeHost(local, "local", INSTANCE);
const target = (): DockerodeHost => new DockerodeHost(droid().engine, "droid", INSTANCE);
const repos: string[] = [];
let registry: TestRegistry | undefined;

/** Builds a small image on this machine's engine whose file /marker says `marker` (FROM busybox, or a given image). */
async function fixture(marker: string, from = "berth-standin/busybox:latest", lines: string[] = []): Promise<string> {
  const repo = uniqueName("berth-transfer-");
  repos.push(repo);
  const pack = tar.pack();
  pack.entry({ name: "Dockerfile" }, [`FROM ${from}`, ...lines, `RUN echo ${marker} > /marker`, `LABEL berth.test=${repo} ${RUN_LABEL}=${process.pid}`, ""].join("\n"));
  pack.finalize();
  const stream = await local.buildImage(pack, { t: `${repo}:v1` });
  await new Promise<void>((resolve, reject) => local.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  return `${repo}:v1`;
}

/** What /marker holds in a container of the image on the droid. */
const markerOn = async (ref: string): Promise<string> =>
  (await target().runOnce({ Image: ref, Cmd: ["cat", "/marker"] }, 30_000)).output.trim();

beforeAll(async () => {
  await removeImagesOfDeadRuns();
  registry = await startRegistry(droid());
});
afterAll(async () => {
  await registry?.stop();
  // Newest first: an image another was built FROM cannot go before that one.
  for (const repo of [...repos].reverse()) {
    for (const i of await local.listImages({ filters: JSON.stringify({ reference: [repo, `*/${repo}`, `*/*/${repo}`] }) })) {
      await local.getImage(i.Id).remove({ force: true }).catch(() => undefined);
    }
  }
});

describe("transferImage to a remote droid", () => {
  it("streams an image engine to engine without a registry, then finds it present", async () => {
    const marker = uniqueName("streamed-");
    const ref = await fixture(marker);
    expect(await target().hasImage(ref)).toBe(false);
    const started = performance.now();
    const moved = await transferImage(ref, builder, target());
    console.log(`image transfer, small image streamed engine to engine: ${Math.round(performance.now() - started)} ms, ${moved.via === "stream" ? moved.bytes : 0} bytes`);
    expect(moved).toMatchObject({ via: "stream" });
    expect(await markerOn(ref)).toBe(marker);
    expect(await transferImage(ref, builder, target())).toEqual({ via: "present" });
  });

  it("streams only the layers the droid lacks under the app's earlier release", async () => {
    const app = uniqueName("app-");
    // 1 MB of random data in a layer of its own, so the skipped bytes tell whether it was sent.
    const first = await fixture(uniqueName("first-"), undefined, [`LABEL berth.app=${app}`, "RUN head -c 1000000 /dev/urandom > /data"]);
    const sent = await transferImage(first, builder, target());
    expect(sent).toMatchObject({ via: "stream", skipped: 0 });
    const marker = uniqueName("second-");
    const second = await fixture(marker, first);
    const delta = await transferImage(second, builder, target());
    console.log(`image transfer, redeploy streamed: ${JSON.stringify(delta)} (the first release: ${JSON.stringify(sent)})`);
    // busybox's layer, the random one and the first marker are there: only the new marker layer goes.
    expect(delta).toMatchObject({ via: "stream" });
    const { bytes, skipped } = delta as { bytes: number; skipped: number };
    expect(skipped).toBeGreaterThan(3_000_000);
    expect(bytes).toBeLessThan(100_000);
    expect(await markerOn(second)).toBe(marker);
    expect((await target().runOnce({ Image: second, Cmd: ["wc", "-c", "/data"] }, 30_000)).output.trim()).toBe("1000000 /data");
  });

  it("goes through the registry when one is set, leaving no registry tag behind", async () => {
    const marker = uniqueName("registry-");
    const ref = await fixture(marker);
    const started = performance.now();
    const moved = await transferImage(ref, builder, target(), { registry: registry!.address });
    console.log(`image transfer, small image through a registry: ${Math.round(performance.now() - started)} ms`);
    expect(moved).toEqual({ via: "registry", as: `${registry!.address}/${ref}` });
    expect(await markerOn(ref)).toBe(marker);
    expect(await target().hasImage(`${registry!.address}/${ref}`)).toBe(false);
    expect(await builder.hasImage(`${registry!.address}/${ref}`)).toBe(false);
    expect(await builder.hasImage(ref)).toBe(true);
  });

  it("fails naming both servers: a registry that is not there, a deadline that passes", async () => {
    const ref = await fixture(uniqueName("failing-"));
    await expect(transferImage(ref, builder, target(), { registry: "127.0.0.1:1", timeoutMs: 30_000 })).rejects.toThrow(
      new RegExp(`^moving image ${ref} from server local to droid failed: pushing 127\\.0\\.0\\.1:1/${ref}`),
    );
    expect(await builder.hasImage(`127.0.0.1:1/${ref}`)).toBe(false);
    const started = Date.now();
    await expect(transferImage(ref, builder, target(), { timeoutMs: 1 })).rejects.toThrow(/from server local to droid failed: loading an image on droid took over 1ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await target().hasImage(ref)).toBe(false);
  });

  // Last: the droid's engine stays down for the rest of the file.
  it("fails at once, naming the server, when the droid's engine is down", async () => {
    const ref = await fixture(uniqueName("dead-"));
    await droid().stopEngine();
    const started = performance.now();
    await expect(transferImage(ref, builder, target())).rejects.toThrow(/^moving image \S+ from server local to droid failed: .*ECONNREFUSED/);
    const ms = Math.round(performance.now() - started);
    console.log(`image transfer to a droid whose engine is down failed after ${ms} ms`);
    expect(ms).toBeLessThan(5000);
  });
});
