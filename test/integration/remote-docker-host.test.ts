import { connect } from "node:net";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { DockerodeHost } from "../../releaser/dockerode-host.js";
import { dockerHostConformance } from "../support/docker-host-conformance.js";
import { droidForSuite, startDroid } from "../support/droid.js";
import { uniqueName, waitFor } from "../support/services.js";

// The DockerHost port against a simulated remote droid (test/support/droid.sh): another dockerd in
// its own network namespace, reached only over TLS on TCP 2376, its bridge addresses blackholed here.
const started = droidForSuite(() => startDroid());

/** Whether a TCP connection from berth's host to ip:port is established within timeoutMs. */
const connects = (ip: string, port: number, timeoutMs: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: timeoutMs });
    socket.once("connect", () => (socket.destroy(), resolve("connected")));
    socket.once("timeout", () => (socket.destroy(), resolve("timeout")));
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });

describe("a simulated remote droid", () => {
  it("answers only over verified TLS, as the engine provision-droid.sh configures", async () => {
    const { engine, address } = started();
    expect((await engine.version()).ApiVersion).toMatch(/^\d+\.\d+$/);
    expect(await connects(address, 2375, 2000)).toBe("ECONNREFUSED"); // no plain-text API
    // Without a client certificate the engine refuses the handshake.
    const bare = await execa("curl", ["-sS", "--max-time", "5", "--cacert", `${started().tlsDir}/ca.pem`, `https://${address}:2376/version`], { reject: false });
    expect(bare.exitCode).not.toBe(0);
    const images = (await engine.listImages()).flatMap((i) => i.RepoTags ?? []);
    expect(images).toEqual(expect.arrayContaining(["berth-standin/busybox:latest", "berth-standin/caddy:2", "berth-standin/redis:7"]));
  });

  it("keeps its containers' addresses unreachable from berth's host, though they answer on the droid", async () => {
    const { engine, pool } = started();
    const name = uniqueName("berth-droid-probe-");
    const c = await engine.createContainer({
      name,
      Image: "berth-standin/busybox:latest",
      Cmd: ["sh", "-c", "echo here > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"],
      HostConfig: { Init: true },
    });
    try {
      await c.start();
      const ip = (await c.inspect()).NetworkSettings.Networks["bridge"]?.IPAddress ?? "";
      expect(ip.startsWith(pool.split(".").slice(0, 2).join(".") + ".")).toBe(true);
      // From inside the droid's namespace the container answers: the server is up ...
      const inside = await waitFor("httpd on the droid", async () => {
        const r = await execa("nsenter", [`--net=/var/run/netns/berth-droid-${started().slot}`, "curl", "-sS", "--max-time", "2", `http://${ip}:8080/`], { reject: false });
        return r.exitCode === 0 ? r.stdout : undefined;
      }, 15_000, 200);
      expect(inside).toBe("here");
      // ... and from berth's host a connect fails at once (blackhole route), never reaching the gateway.
      expect(await connects(ip, 8080, 3000)).toMatch(/^(EINVAL|ENETUNREACH|EHOSTUNREACH)$/);
    } finally {
      await c.remove({ force: true });
    }
  });

  it("health-probes from a container inside the droid, made anew when it is gone", async () => {
    const { engine } = started();
    const host = new DockerodeHost(engine, "droid", "berth-itest-probe", { probeImage: "berth-standin/caddy:2" });
    const net = uniqueName("berth-droid-net-");
    const name = uniqueName("berth-droid-web-");
    await engine.createNetwork({ Name: net });
    try {
      const c = await engine.createContainer({
        name,
        Image: "berth-standin/busybox:latest",
        Cmd: ["sh", "-c", "echo up > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"],
        HostConfig: { NetworkMode: net, Init: true },
      });
      await c.start();
      const target = { container: name, network: net, port: 8080, path: "/" };
      await waitFor("a probe from the droid", async () => (await host.probeHttp(target, 2000)) === 200, 15_000, 100);
      const probe = await engine.getContainer("berth-itest-probe-probe").inspect();
      expect(Object.keys(probe.NetworkSettings.Networks)).toContain(net);
      expect(probe.Config.Labels).toMatchObject({ "berth.role": "probe", "berth.instance": "berth-itest-probe" });
      expect(probe.Config.Labels["berth.managed"]).toBeUndefined(); // never a stray to the reconciler
      await engine.getContainer("berth-itest-probe-probe").remove({ force: true });
      expect(await host.probeHttp(target, 2000)).toBeUndefined(); // gone under it: no answer, no throw
      await waitFor("a probe from a new probe container", async () => (await host.probeHttp(target, 2000)) === 200, 15_000, 100);
    } finally {
      await engine.getContainer(name).remove({ force: true }).catch(() => undefined);
      await engine.getContainer("berth-itest-probe-probe").remove({ force: true }).catch(() => undefined);
      await engine.getNetwork(net).remove().catch(() => undefined);
    }
  });
});

dockerHostConformance(
  "dockerode on a remote droid over TLS",
  () => ({
    host: new DockerodeHost(started().engine, "droid", "berth-conformance", { probeImage: "berth-standin/caddy:2" }),
    engine: started().engine,
    stamped: { "berth.instance": "berth-conformance" },
  }),
);
