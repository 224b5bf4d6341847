import type Docker from "dockerode";
import { expect, it } from "vitest";
import { ProbeContainer } from "../../releaser/probe-container.js";

const PROBE = "berth-x-probe";
const status = (code: number, message: string): Error => Object.assign(new Error(message), { statusCode: code });

/**
 * The calls of dockerode a probe makes, on an engine that came back holding a containerd task for the
 * stopped probe container's id (an engine killed in the middle of starting it): every start of that
 * container is answered "task … already exists" (seen on a droid after such a kill). Execs are
 * refused (409), which a probe takes as no answer.
 */
function engineWithStaleProbeTask() {
  let ids = 0;
  const probes = [{ id: "stale0", running: false, stale: true, options: {} as Docker.ContainerCreateOptions }];
  const current = () => probes.at(-1);
  const calls: string[] = [];
  const probeContainer = {
    inspect: async () => {
      const c = current();
      if (!c) throw status(404, "no such container");
      return { Id: c.id, State: { Running: c.running }, NetworkSettings: { Networks: { net: {} } } };
    },
    start: async () => {
      const c = current();
      calls.push(`start ${c?.id}`);
      if (!c) throw status(404, "no such container");
      if (c.stale) throw status(500, `(HTTP code 500) server error - task ${c.id}: already exists `);
      c.running = true;
    },
    remove: async (o: { force?: boolean }) => {
      calls.push(`remove ${current()?.id} force=${o.force}`);
      probes.pop();
    },
    exec: async () => {
      throw status(409, "container is not running");
    },
  };
  const web = { inspect: async () => ({ NetworkSettings: { Networks: { net: { IPAddress: "10.230.2.5" } } } }) };
  const docker = {
    // By name or by the id of a probe container (berth removes a stale one by its id).
    getContainer: (name: string) => (name === PROBE || probes.some((p) => p.id === name) ? probeContainer : web),
    getImage: () => ({ inspect: async () => ({}) }),
    createContainer: async (options: Docker.ContainerCreateOptions) => {
      const id = `fresh${++ids}`;
      calls.push(`create ${id}`);
      probes.push({ id, running: false, stale: false, options });
    },
  } as unknown as Docker;
  return { docker, calls, current };
}

it("replaces its probe container when containerd holds a task no start of it gets past", async () => {
  const engine = engineWithStaleProbeTask();
  const probe = new ProbeContainer(engine.docker, { instance: "berth-x", image: "caddy:2", server: "droid-eu" });
  // No answer this time (the exec is refused), not a failed release.
  await expect(probe.probe({ container: "web", network: "net", port: 8080, path: "/" }, 1000)).resolves.toBeUndefined();
  expect(engine.calls).toEqual(["start stale0", "remove stale0 force=true", "create fresh1", "start fresh1"]);
  expect(engine.current()).toMatchObject({ id: "fresh1", running: true, options: { name: PROBE, StopSignal: "SIGKILL" } });
});
