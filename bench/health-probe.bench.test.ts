import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DockerodeHost } from "../releaser/dockerode-host.js";
import type { HttpTarget } from "../releaser/health-check.js";
import { ProbeContainer } from "../releaser/probe-container.js";
import { startDroid, type Droid } from "../test/support/droid.js";
import { uniqueName, waitFor } from "../test/support/services.js";

/**
 * One health probe's latency, as a release polls it every 100 ms: direct from berth's process to the
 * bridge address (local engine only), by exec of busybox wget in the probe container on the local
 * engine, and the same on a remote droid over TLS (test/support/droid.sh). Prints median and p95.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const INSTANCE = "berth-bench";
const local = new Docker({ socketPath: "/var/run/docker.sock" });
let droid: Droid | undefined;
const made: { engine: Docker; container: string; network: string }[] = [];

async function serve(engine: Docker): Promise<HttpTarget> {
  const network = uniqueName("berth-bench-net-");
  const container = uniqueName("berth-bench-web-");
  made.push({ engine, container, network });
  await engine.createNetwork({ Name: network });
  const c = await engine.createContainer({
    name: container,
    Image: "berth-standin/busybox:latest",
    Cmd: ["sh", "-c", "mkdir -p /www && echo up > /www/index.html && exec httpd -f -p 8080 -h /www"],
    HostConfig: { NetworkMode: network, Init: true },
  });
  await c.start();
  return { container, network, port: 8080, path: "/" };
}

async function measure(what: string, probe: () => Promise<number | undefined>): Promise<void> {
  await waitFor(`${what} answers`, async () => (await probe()) === 200, 20_000, 100);
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    expect(await probe()).toBe(200);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number): string => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
  console.log(`health probe, ${what}: median ${at(0.5)} ms, p95 ${at(0.95)} ms (${ROUNDS} probes)`);
}

beforeAll(async () => {
  droid = await startDroid();
});
afterAll(async () => {
  for (const m of made) {
    await m.engine.getContainer(m.container).remove({ force: true }).catch(() => undefined);
    await m.engine.getContainer(`${INSTANCE}-probe`).remove({ force: true }).catch(() => undefined);
    await m.engine.getNetwork(m.network).remove().catch(() => undefined);
  }
  await droid?.stop();
});

it("measures one health probe direct, by exec on the local engine, and by exec on a remote droid", async () => {
  const here = await serve(local);
  const direct = new DockerodeHost(local, "local", INSTANCE);
  await measure("direct to the bridge address (local engine)", () => direct.probeHttp(here, 2000));
  const execLocal = new ProbeContainer(local, { instance: INSTANCE, image: "berth-standin/caddy:2", server: "local" });
  await measure("exec in the probe container (local engine)", () => execLocal.probe(here, 2000));
  const there = await serve(droid!.engine);
  const remote = new DockerodeHost(droid!.engine, "droid", INSTANCE, { probeImage: "berth-standin/caddy:2" });
  await measure("exec in the probe container (remote droid over TLS)", () => remote.probeHttp(there, 2000));
});
