import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { DockerodeHost } from "../../releaser/dockerode-host.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import { CADDYFILE_PATH, planProxyReload, proxyNames } from "../../releaser/proxy-plan.js";
import { removeContainer, removeInstance } from "../support/docker-cleanup.js";
import { dockerHostConformance } from "../support/docker-host-conformance.js";
import { startPoller } from "../support/poller.js";
import { freePort, getVia, uniqueName, waitFor } from "../support/services.js";

// The DockerHost conformance suite (test/support/docker-host-conformance.ts) on the machine's real engine.
dockerHostConformance("dockerode on the local engine", () => {
  const engine = new Docker({ socketPath: "/var/run/docker.sock" });
  // An installation of its own: the suite never sees or touches a live berth's objects on this engine.
  return { host: new DockerodeHost(engine, "local", "berth-conformance"), engine, stamped: { "berth.instance": "berth-conformance" } };
});

describe("DockerodeHost installations", () => {
  const engine = new Docker({ socketPath: "/var/run/docker.sock" });
  const app = uniqueName("berth-inst-");
  const ours = new DockerodeHost(engine, "local", "berth-itest-ours");
  const names = [uniqueName("berth-inst-net-"), uniqueName("berth-inst-net-"), uniqueName("berth-inst-net-")];

  afterAll(async () => {
    for (const n of names) await engine.getNetwork(n).remove().catch(() => undefined);
  });

  it("lists only its own installation's objects; unlabelled ones belong to the default installation", async () => {
    const labels = { "berth.managed": "true", "berth.app": app };
    await ours.ensureNetwork(names[0]!, labels);
    await engine.createNetwork({ Name: names[1]!, Labels: { ...labels, "berth.instance": "berth-someone-else" } });
    await engine.createNetwork({ Name: names[2]!, Labels: labels }); // made before installations had names
    expect((await ours.listManaged({ "berth.app": app })).networks.map((n) => n.name)).toEqual([names[0]]);
    const legacy = new DockerodeHost(engine); // the default installation
    expect((await legacy.listManaged({ "berth.app": app })).networks.map((n) => n.name)).toEqual([names[2]]);
  });
});

describe("IngressProxy on the Caddy stand-in", () => {
  const instance = "berth-itest";
  const PROXY_CONTAINER = proxyNames(instance).container; // never the default berth-proxy a live berth may run
  const engine = new Docker({ socketPath: "/var/run/docker.sock" });
  const host = new DockerodeHost(engine, "local", instance);
  const net = uniqueName("berth-ingress-t-");
  const backend = uniqueName("berth-backend-");
  let port: number;
  let proxy: IngressProxy;
  let upstream: string;

  beforeAll(async () => {
    await removeContainer(PROXY_CONTAINER);
    port = await freePort();
    proxy = new IngressProxy(host, { instance, image: "berth-standin/caddy:2", httpPort: port, httpsPort: await freePort() }, false, createLogger("silent"));
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
    await removeInstance(instance);
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

  it("resets no new connection while it reloads under traffic: the kernel hands the old listener's queue to the new one", async () => {
    await proxy.apply([{ hostname: "site.localhost", upstream }]);
    expect((await engine.getContainer(PROXY_CONTAINER).inspect()).HostConfig.Sysctls).toEqual({ "net.ipv4.tcp_migrate_req": "1" });
    // Without the sysctl about one reload in eight reset a fresh connection under this load (measured).
    const pollers = [1, 2, 3].map(() => startPoller(port, "site.localhost"));
    for (let i = 0; i < 80; i++) await proxy.apply([{ hostname: "site.localhost", upstream }, { hostname: `r${i}.localhost`, upstream }]);
    const stats = await Promise.all(pollers.map((p) => p.stop()));
    expect(stats.flatMap((s) => s.errors)).toEqual([]);
    expect(stats.reduce((n, s) => n + s.ok, 0)).toBeGreaterThan(500);
  });

  it("recreates the proxy when its ports change", async () => {
    const before = await host.inspectContainer(PROXY_CONTAINER);
    const newPort = await freePort();
    const moved = new IngressProxy(host, { instance, image: "berth-standin/caddy:2", httpPort: newPort, httpsPort: await freePort() }, false, createLogger("silent"));
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
