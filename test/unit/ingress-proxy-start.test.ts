import { expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import { EngineError, FakeDockerHost } from "../support/fakes/fake-docker-host.js";

it("recreates a stopped proxy its engine will not start again because containerd holds a task for its id", async () => {
  const host = new FakeDockerHost("droid-eu");
  host.addImage("caddy:2");
  const proxy = new IngressProxy(host, { image: "caddy:2", httpPort: 80, httpsPort: 443 }, false, createLogger("silent"));
  await proxy.ensure([], []);
  const first = host.find(proxy.container)!;
  first.running = false;
  // An engine killed in the middle of starting it: every start of that id is refused from then on.
  const start = host.startContainer.bind(host);
  host.startContainer = async (id) => {
    if (id === first.id || host.find(id) === first) throw new EngineError(500, `server error - task ${first.id}: already exists `);
    return start(id);
  };

  await proxy.ensure([], []);

  const now = host.find(proxy.container)!;
  expect(now.id).not.toBe(first.id);
  expect(now.running).toBe(true);
  expect(now.files.size).toBeGreaterThan(0);
  expect(host.removed).toEqual([first.name]);
});

it("makes the proxy without tcp_migrate_req when the engine's runtime refuses it, and keeps making it so", async () => {
  const host = new FakeDockerHost("local");
  host.addImage("caddy:2");
  const proxy = new IngressProxy(host, { image: "caddy:2", httpPort: 80, httpsPort: 443 }, false, createLogger("silent"));
  // A sandboxed runtime: the kernel says 6.x, but a container asking for the sysctl does not start.
  const start = host.startContainer.bind(host);
  host.startContainer = async (id) => {
    if (host.find(id)?.options.HostConfig?.Sysctls) throw new EngineError(500, 'failed to create task: open /proc/sys/net/ipv4/tcp_migrate_req: permission denied');
    return start(id);
  };

  await proxy.ensure([], []);

  const now = host.find(proxy.container)!;
  expect(now.running).toBe(true);
  expect(now.options.HostConfig?.Sysctls).toBeUndefined();
  expect(now.files.size).toBeGreaterThan(0);
  // Its spec key now matches what runs: the next pass leaves it alone.
  await proxy.ensure([], []);
  expect(host.find(proxy.container)!.id).toBe(now.id);
});
