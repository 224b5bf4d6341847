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
});

dockerHostConformance(
  "dockerode on a remote droid over TLS",
  () => ({
    host: new DockerodeHost(started().engine, "droid", "berth-conformance", { probeImage: "berth-standin/caddy:2" }),
    engine: started().engine,
    stamped: { "berth.instance": "berth-conformance" },
  }),
);
