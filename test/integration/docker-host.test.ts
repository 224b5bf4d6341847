import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { DockerodeHost } from "../../releaser/docker-host.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import { CADDYFILE_PATH, PROXY_CONTAINER, planProxyReload } from "../../releaser/proxy-plan.js";
import { removeContainer } from "../support/docker-cleanup.js";
import { dockerHostConformance } from "../support/docker-host-conformance.js";
import { freePort, getVia, uniqueName, waitFor } from "../support/services.js";

// The DockerHost conformance suite (test/support/docker-host-conformance.ts) on the machine's real engine.
dockerHostConformance("dockerode on the local engine", () => {
  const engine = new Docker({ socketPath: "/var/run/docker.sock" });
  return { host: new DockerodeHost(engine), engine };
});

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
