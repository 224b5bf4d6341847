import Docker from "dockerode";
import tar from "tar-stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DockerodeHost } from "../releaser/dockerode-host.js";
import { transferImage, type TransferResult } from "../releaser/image-transfer.js";
import { removeImagesOfDeadRuns, RUN_LABEL } from "../test/support/docker-cleanup.js";
import { startDroid, type Droid } from "../test/support/droid.js";
import { startRegistry, type TestRegistry } from "../test/support/registry.js";
import { uniqueName } from "../test/support/services.js";

/**
 * Moving an image from this machine's engine to a remote droid (test/support/droid.sh, TLS over a
 * veth pair): a small image and a ~200 MB one (two 100 MB layers of random data on the busybox
 * stand-in), then a redeploy of the big one with a new small top layer, each streamed through berth
 * and through a registry (Debian's docker-registry). Prints time, bytes and berth's peak RSS growth.
 */
const BIG_MB = Number(process.env.BENCH_IMAGE_MB ?? 200);
const local = new Docker({ socketPath: "/var/run/docker.sock" });
const INSTANCE = "berth-bench-transfer";
const repos: string[] = [];
let droid: Droid | undefined;
let registry: TestRegistry | undefined;

async function build(lines: string[], label: string): Promise<string> {
  const repo = uniqueName("berth-bench-image-");
  repos.push(repo);
  const pack = tar.pack();
  pack.entry({ name: "Dockerfile" }, ["FROM berth-standin/busybox:latest", `LABEL berth.app=${label} ${RUN_LABEL}=${process.pid}`, ...lines, ""].join("\n"));
  pack.finalize();
  const stream = await local.buildImage(pack, { t: `${repo}:v1` });
  await new Promise<void>((resolve, reject) => local.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  return `${repo}:v1`;
}

/** The big image, and its redeploy: the same random layers (built once, retagged) plus a small new one. */
async function big(label: string): Promise<{ first: string; redeploy: string }> {
  const half = Math.round(BIG_MB / 2);
  const first = await build([`RUN head -c ${half}m /dev/urandom > /a`, `RUN head -c ${half}m /dev/urandom > /b`], label);
  const repo = first.slice(0, first.lastIndexOf(":"));
  const pack = tar.pack();
  pack.entry({ name: "Dockerfile" }, [`FROM ${first}`, `RUN echo ${uniqueName("v2-")} > /version`, ""].join("\n"));
  pack.finalize();
  const stream = await local.buildImage(pack, { t: `${repo}:v2` });
  await new Promise<void>((resolve, reject) => local.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  return { first, redeploy: `${repo}:v2` };
}

async function measure(what: string, move: () => Promise<TransferResult>): Promise<void> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  const result = await move();
  const ms = performance.now() - started;
  clearInterval(sampler);
  expect(result.via).not.toBe("present");
  const sent = result.via === "stream" ? `, ${(result.bytes / 1e6).toFixed(1)} MB sent${result.skipped ? `, ${(result.skipped / 1e6).toFixed(1)} MB of layers the droid had skipped` : ""}` : "";
  console.log(`image transfer, ${what}: ${(ms / 1000).toFixed(2)} s${sent}, berth RSS +${((peak - base) / 1e6).toFixed(0)} MB`);
}

beforeAll(async () => {
  await removeImagesOfDeadRuns();
  droid = await startDroid();
  registry = await startRegistry(droid);
});
afterAll(async () => {
  await registry?.stop();
  await droid?.stop();
  for (const repo of [...repos].reverse()) {
    // Newest first: an image another was built FROM cannot go before that one.
    const images = (await local.listImages({ filters: JSON.stringify({ reference: [repo] }) })).sort((x, y) => y.Created - x.Created);
    for (const i of images) await local.getImage(i.Id).remove({ force: true }).catch(() => undefined);
  }
});

it(`measures moving a small and a ${BIG_MB} MB image to a remote droid, streamed and through a registry`, async () => {
  const builder = new DockerodeHost(local, "local", INSTANCE);
  const target = new DockerodeHost(droid!.engine, "droid", INSTANCE);
  const viaRegistry = { registry: registry!.address };
  for (const path of ["streamed", "through a registry"] as const) {
    const options = path === "streamed" ? {} : viaRegistry;
    const small = await build([`RUN echo ${uniqueName("small-")} > /marker`], uniqueName("bench-app-"));
    await measure(`small image (busybox + 1 layer), ${path}`, () => transferImage(small, builder, target, options));
    const { first, redeploy } = await big(uniqueName("bench-app-"));
    await measure(`${BIG_MB} MB image, ${path}`, () => transferImage(first, builder, target, options));
    await measure(`${BIG_MB} MB image's redeploy (one new small layer), ${path}`, () => transferImage(redeploy, builder, target, options));
  }
});
