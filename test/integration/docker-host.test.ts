import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { DockerodeHost, type DockerHost } from "../../releaser/docker-host.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import { CADDYFILE_PATH, PROXY_CONTAINER, planProxyReload } from "../../releaser/proxy-plan.js";
import { anyAnswer, waitHealthy } from "../../releaser/health-check.js";
import { removeContainer } from "../support/docker-cleanup.js";
import { freePort, getVia, uniqueName, waitFor } from "../support/services.js";

/**
 * The DockerHost conformance suite: what every implementation of the port must do. It runs here against
 * the Engine API driver on the machine's real Docker engine.
 */
function dockerHostConformance(name: string, make: () => DockerHost): void {
  describe(`DockerHost conformance: ${name}`, () => {
    const host = make();
    const net = uniqueName("berth-conf-");
    const container = uniqueName("berth-conf-c-");

    afterAll(async () => {
      await host.removeContainer(container);
      await new Docker({ socketPath: "/var/run/docker.sock" }).getNetwork(net).remove().catch(() => undefined);
    });

    it("creates networks idempotently", async () => {
      await host.ensureNetwork(net, { "berth.managed": "true" });
      await host.ensureNetwork(net, { "berth.managed": "true" });
    });

    it("runs a container, finds its address, writes files, execs and reads logs", async () => {
      const id = await host.createContainer({
        name: container,
        Image: "berth-standin/busybox:latest",
        Cmd: ["sh", "-c", "echo started; mkdir -p /www; exec httpd -f -p 8080 -h /www"],
        HostConfig: { NetworkMode: net, Init: true },
      });
      await host.startContainer(id);
      await host.startContainer(id); // already running is fine
      const info = await host.inspectContainer(container);
      expect(info).toMatchObject({ id, name: container, running: true, networks: [net] });
      await host.putFile(container, "/www/index.html", "from putFile\n");
      const target = { container, network: net, port: 8080, path: "/" };
      await waitHealthy((ms) => host.probeHttp(target, ms), { ...target, accept: anyAnswer }, 10_000);
      expect(await host.probeHttp(target, 2000)).toBe(200);
      expect(await host.probeHttp({ ...target, path: "/missing" }, 2000)).toBe(404);
      expect(await host.probeHttp({ ...target, port: 8081 }, 2000)).toBeUndefined();
      expect(await host.exec(container, ["cat", "/www/index.html"])).toEqual({ exitCode: 0, output: "from putFile\n" });
      await expect(host.exec(container, ["sh", "-c", "echo nope >&2; exit 4"])).rejects.toThrow(/exited with 4: nope/);
      expect(await host.logsTail(id, 5)).toContain("started");
    });

    it("bounds an exec: its output to head and tail, its wait to a deadline", async () => {
      const { output } = await host.exec(container, ["sh", "-c", "echo first; yes | head -c 300000; echo last"]);
      expect(output.startsWith("first\n")).toBe(true);
      expect(output.endsWith("y\nlast\n")).toBe(true);
      expect(output).toMatch(/\n\[\.\.\. \d+ characters of output cut \.\.\.\]\n/);
      expect(output.length).toBeLessThan(64 * 1024 + 100);
      const started = Date.now();
      await expect(host.exec(container, ["sleep", "30"], { timeoutMs: 1000 })).rejects.toThrow(/^sleep 30 was still running after 1s; berth stopped waiting for it/);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it("runs a container once, keeping the head and tail of a long output, and kills it at its deadline", async () => {
      const run = await host.runOnce({ Image: "berth-standin/busybox:latest", Cmd: ["sh", "-c", "echo first; yes | head -c 3000000; echo last; exit 3"] }, 30_000);
      expect(run.exitCode).toBe(3);
      expect(run.output.startsWith("first\n")).toBe(true);
      expect(run.output.endsWith("y\nlast\n")).toBe(true);
      expect(run.output.length).toBeLessThan(1024 * 1024 + 100);
      const killed = await host.runOnce({ Image: "berth-standin/busybox:latest", Cmd: ["sh", "-c", "echo waiting; sleep 60"] }, 1000);
      expect(killed).toEqual({ exitCode: -1, output: "waiting\n\n(killed after 1s)" });
    });

    it("treats missing containers as absent, and stop/remove as idempotent", async () => {
      expect(await host.inspectContainer(uniqueName("missing-"))).toBeUndefined();
      await host.stopContainer(container, 1);
      await host.stopContainer(container, 1);
      await host.removeContainer(container);
      await host.removeContainer(container);
      expect(await host.inspectContainer(container)).toBeUndefined();
    });
  });
}

dockerHostConformance("dockerode on the local engine", () => new DockerodeHost(new Docker({ socketPath: "/var/run/docker.sock" })));

describe("IngressProxy on the Caddy stand-in", () => {
  const host = new DockerodeHost(new Docker({ socketPath: "/var/run/docker.sock" }));
  const net = uniqueName("berth-ingress-t-");
  const backend = uniqueName("berth-backend-");
  let port: number;
  let proxy: IngressProxy;
  let upstream: string;

  beforeAll(async () => {
    await removeContainer(PROXY_CONTAINER);
    port = await freePort();
    proxy = new IngressProxy(host, { image: "berth-standin/caddy:2", httpPort: port, httpsPort: await freePort() }, false, createLogger("silent"));
    await host.ensureNetwork(net, {});
    const id = await host.createContainer({
      name: backend,
      Image: "berth-standin/busybox:latest",
      Cmd: ["sh", "-c", "mkdir -p /www && echo backend > /www/index.html && exec httpd -f -p 8080 -h /www"],
      HostConfig: { NetworkMode: net, Init: true },
    });
    await host.startContainer(id);
    upstream = `${backend}:8080`; // routed by container name on the shared network, as releases are
  });

  afterAll(async () => {
    await removeContainer(PROXY_CONTAINER);
    await removeContainer(backend);
    await new Docker({ socketPath: "/var/run/docker.sock" }).getNetwork(net).remove().catch(() => undefined);
  });

  it("starts the proxy, routes a hostname, and answers 404 for unknown hosts", async () => {
    await proxy.ensure([], []);
    await proxy.attach(net);
    await proxy.apply([{ hostname: "site.localhost", upstream }]);
    const r = await waitFor("route", async () => {
      const res = await getVia(port, "site.localhost");
      return res.status === 200 ? res : undefined;
    }, 15_000);
    expect(r.body).toBe("backend\n");
    expect(await getVia(port, "other.localhost")).toEqual({ status: 404, body: "No berth app is served at this host." });
  });

  it("keeps serving the old config when a new one is refused", async () => {
    // berth's planner never renders a broken Caddyfile, so write one by hand to see Caddy refuse it.
    await host.putFile(PROXY_CONTAINER, CADDYFILE_PATH, "http://site.localhost {\n\tno_such_directive\n}\n");
    await expect(host.exec(PROXY_CONTAINER, planProxyReload())).rejects.toThrow(/caddy reload .* exited with 1/);
    expect((await getVia(port, "site.localhost")).body).toBe("backend\n");
  });

  it("recreates the proxy when its ports change", async () => {
    const before = await host.inspectContainer(PROXY_CONTAINER);
    const newPort = await freePort();
    const moved = new IngressProxy(host, { image: "berth-standin/caddy:2", httpPort: newPort, httpsPort: await freePort() }, false, createLogger("silent"));
    await moved.ensure([{ hostname: "site.localhost", upstream }], [net]);
    const after = await host.inspectContainer(PROXY_CONTAINER);
    expect(after?.id).not.toBe(before?.id);
    const r = await waitFor("route on the new port", async () => {
      const res = await getVia(newPort, "site.localhost").catch(() => undefined);
      return res?.status === 200 ? res : undefined;
    }, 15_000);
    expect(r.body).toBe("backend\n");
  });
});
