import { Readable } from "node:stream";
import type Docker from "dockerode";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../core/errors.js";
import { anyAnswer, waitHealthy } from "../../releaser/health-check.js";
import type { DockerHost } from "../../releaser/docker-host.js";
import { uniqueName, waitFor } from "./services.js";

/** What the suite runs against: the port, and the same engine through the Engine API for what the port cannot make. */
export interface ConformanceTarget {
  host: DockerHost;
  /** Used only to build fixture images (the port has no build) and to clean up whatever a failed test left. */
  engine: Docker;
  /** Labels the implementation stamps on everything it creates: its installation (BERTH_INSTANCE). */
  stamped?: Record<string, string>;
}

const BUSYBOX = "berth-standin/busybox:latest";
const SECOND = 1e9; // Docker health check durations are nanoseconds

/**
 * The DockerHost conformance suite: what every implementation of the port must do, one test per
 * promise of its contract. Every test makes its own uniquely named objects; afterAll removes them.
 */
export function dockerHostConformance(
  name: string,
  make: () => ConformanceTarget | Promise<ConformanceTarget>,
  options: { knownGaps?: Record<string, string> } = {},
): void {
  describe(`DockerHost conformance: ${name}`, () => {
    /**
     * A promise this implementation does not keep yet runs as it.fails under its reason, so the gap
     * stays visible and the suite turns red the day it is closed (then drop the entry).
     */
    const defined = new Set<string>();
    const check = (title: string, fn: () => Promise<void>): void => {
      const gap = options.knownGaps?.[title];
      defined.add(title);
      if (gap) it.fails(`${title} [known gap: ${gap}]`, fn);
      else it(title, fn);
    };
    // Made in beforeAll: a target may exist only once the file's own setup ran (a droid started there).
    let host: DockerHost;
    let engine: Docker;
    let stamped: Record<string, string> = {};
    beforeAll(async () => {
      ({ host, engine, stamped = {} } = await make());
    });
    /** The labels an object made through the port carries: the given ones and the installation's. */
    const own = (labels: Record<string, string>): Record<string, string> => ({ ...labels, ...stamped });
    const made = { container: new Set<string>(), network: new Set<string>(), volume: new Set<string>(), image: new Set<string>() };
    const fresh = (kind: keyof typeof made): string => {
      const n = uniqueName(`berth-conf-${kind}-`);
      made[kind].add(n);
      return n;
    };
    const network = async (labels: Record<string, string> = {}): Promise<string> => {
      const n = fresh("network");
      await host.ensureNetwork(n, labels);
      return n;
    };
    /** A started container; `sleep` under an init, so a stop takes no grace period. */
    const running = async (o: { cmd?: string[]; labels?: Record<string, string>; network?: string; image?: string } = {}): Promise<{ id: string; name: string }> => {
      const n = fresh("container");
      const id = await host.createContainer({
        name: n,
        Image: o.image ?? BUSYBOX,
        Cmd: o.cmd ?? ["sleep", "3600"],
        Labels: o.labels ?? {},
        HostConfig: { Init: true, ...(o.network ? { NetworkMode: o.network } : {}) },
      });
      await host.startContainer(id);
      return { id, name: n };
    };
    /** Builds a tagged image FROM busybox with extra Dockerfile lines. */
    const image = async (lines: string[]): Promise<string> => {
      const tag = `${fresh("image")}:v1`;
      const pack = tar.pack();
      pack.entry({ name: "Dockerfile" }, [`FROM ${BUSYBOX}`, ...lines, ""].join("\n"));
      pack.finalize();
      const stream = await engine.buildImage(pack, { t: tag });
      await new Promise<void>((resolve, reject) =>
        engine.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
          const failed = err ?? out.find((e) => e.error)?.error;
          if (failed) reject(new Error(`fixture image ${tag}: ${String(failed)}`));
          else resolve();
        }),
      );
      return tag;
    };
    const count = (text: string, word: string): number => text.split("\n").filter((l) => l === word).length;

    afterAll(async () => {
      if (!engine) return;
      for (const c of made.container) await engine.getContainer(c).remove({ force: true, v: true }).catch(() => undefined);
      for (const n of made.network) {
        // By id: a name two networks share (a failed ensure) is ambiguous to the engine.
        const same = (await engine.listNetworks({ filters: JSON.stringify({ name: [n] }) })).filter((x) => x.Name === n);
        for (const x of same) await engine.getNetwork(x.Id).remove().catch(() => undefined);
      }
      for (const v of made.volume) await engine.getVolume(v).remove().catch(() => undefined);
      for (const i of made.image) {
        const tagged = await engine.listImages({ filters: JSON.stringify({ reference: [i] }) });
        for (const t of tagged) await engine.getImage(t.Id).remove({ force: true }).catch(() => undefined);
      }
    });

    check("reports the server's kernel release as the engine sees it", async () => {
      expect(await host.kernelVersion()).toBe((await engine.info()).KernelVersion);
      expect(await host.kernelVersion()).toMatch(/^\d+\.\d+/);
    });

    check("creates a network once, with its labels, however often it is ensured", async () => {
      const app = uniqueName("conf-app-");
      const labels = { "berth.managed": "true", "berth.app": app };
      const n = fresh("network");
      await host.ensureNetwork(n, labels);
      await host.ensureNetwork(n, labels);
      await host.ensureNetwork(n, { ...labels, "berth.other": "ignored" });
      expect((await host.listManaged({ "berth.app": app })).networks).toEqual([{ name: n, labels: own(labels) }]);
    });

    // Docker 20.10 accepts two concurrent creates of one name (CheckDuplicate is best effort).
    check("creates a network once when it is ensured concurrently", async () => {
      const app = uniqueName("conf-app-");
      const labels = { "berth.managed": "true", "berth.app": app };
      const n = fresh("network");
      await Promise.all([host.ensureNetwork(n, labels), host.ensureNetwork(n, labels)]);
      await host.ensureNetwork(n, labels);
      expect((await host.listManaged({ "berth.app": app })).networks).toEqual([{ name: n, labels: own(labels) }]);
    });

    check("connects a container to another network, idempotently and concurrently", async () => {
      const [a, b] = [await network(), await network()];
      const c = await running({ network: a });
      await Promise.all([host.connect(b, c.name), host.connect(b, c.name)]);
      await host.connect(b, c.name);
      expect((await host.inspectContainer(c.name))?.networks.sort()).toEqual([a, b].sort());
    });

    check("reads an image's exposed ports: none for an image without EXPOSE, and rejects a missing image", async () => {
      const tag = await image(["EXPOSE 8080", "EXPOSE 9090/udp"]);
      expect(await host.imageExposedPorts(tag)).toEqual({ "8080/tcp": {}, "9090/udp": {} });
      expect(await host.imageExposedPorts(BUSYBOX)).toBeUndefined();
      // A rollback checks that its image is still there this way (releaser/release/workflow.ts).
      await expect(host.imageExposedPorts(`${uniqueName("berth-conf-missing-")}:gone`)).rejects.toThrow();
    });

    check("creates a container stopped, starts it (twice is fine) and inspects it by name or id", async () => {
      const net = await network();
      const n = fresh("container");
      const labels = { "berth.test": n };
      const id = await host.createContainer({ name: n, Image: BUSYBOX, Cmd: ["sleep", "3600"], Labels: labels, HostConfig: { NetworkMode: net, Init: true } });
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      expect(await host.inspectContainer(n)).toMatchObject({ id, name: n, running: false, image: BUSYBOX, labels: own(labels) });
      await host.startContainer(id);
      await host.startContainer(id);
      const info = await host.inspectContainer(id);
      expect(info).toEqual({ id, name: n, running: true, image: BUSYBOX, labels: own(labels), networks: [net] });
    });

    check("treats a missing container as absent: inspect, stop, remove, probe and logs do not throw", async () => {
      const missing = uniqueName("berth-conf-missing-");
      expect(await host.inspectContainer(missing)).toBeUndefined();
      await expect(host.stopContainer(missing, 1)).resolves.toBeUndefined();
      await expect(host.removeContainer(missing)).resolves.toBeUndefined();
      expect(await host.probeHttp({ container: missing, network: "bridge", port: 80, path: "/" }, 500)).toBeUndefined();
      expect(typeof (await host.logsTail(missing, 5))).toBe("string"); // failure reports quote it: never a throw
      await expect(host.exec(missing, ["true"])).rejects.toThrow();
    });

    check("probes HTTP on a container's network: the status, or undefined when nothing answers", async () => {
      const net = await network();
      const other = await network();
      const c = await running({ network: net, cmd: ["sh", "-c", "mkdir -p /www/found && echo hi > /www/found/index.html && exec httpd -f -p 8080 -h /www"] });
      const target = { container: c.name, network: net, port: 8080, path: "/found/" };
      await waitHealthy((ms) => host.probeHttp(target, ms), { ...target, accept: anyAnswer }, 10_000);
      expect(await host.probeHttp(target, 2000)).toBe(200);
      expect(await host.probeHttp({ ...target, path: "/missing" }, 2000)).toBe(404);
      expect(await host.probeHttp({ ...target, port: 8081 }, 2000)).toBeUndefined();
      expect(await host.probeHttp({ ...target, network: other }, 2000)).toBeUndefined(); // not attached there
    });

    // A remote driver probes from a container it attaches to app networks: a network torn down and
    // made again under the same name (a preview closed and reopened) is a new network to join.
    check("probes a container on a network removed and made again under the same name", async () => {
      const net = await network();
      const serve = ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"];
      const first = await running({ network: net, cmd: serve });
      const target = { container: first.name, network: net, port: 8080, path: "/" };
      await waitHealthy((ms) => host.probeHttp(target, ms), { ...target, accept: anyAnswer }, 10_000);
      await host.removeContainer(first.id);
      await host.removeNetwork(net);
      await host.ensureNetwork(net, {});
      const second = await running({ network: net, cmd: serve });
      const again = { ...target, container: second.name };
      await waitHealthy((ms) => host.probeHttp(again, ms), { ...again, accept: anyAnswer }, 10_000);
      expect(await host.probeHttp(again, 2000)).toBe(200);
    });

    check("writes a file into a container, creating missing directories and replacing what was there", async () => {
      const c = await running();
      await host.putFile(c.name, "/deep/er/file.txt", "first\n");
      expect(await host.exec(c.name, ["cat", "/deep/er/file.txt"])).toEqual({ exitCode: 0, output: "first\n" });
      await host.putFile(c.name, "/deep/er/file.txt", "second\n");
      expect(await host.exec(c.name, ["cat", "/deep/er/file.txt"])).toEqual({ exitCode: 0, output: "second\n" });
    });

    check("reads the last lines of a container's stdout and stderr", async () => {
      // The engine copies stdout and stderr side by side: the pause keeps their order in the log.
      const c = await running({ cmd: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo line $i; done; sleep 0.2; echo oops >&2; exec sleep 3600"] });
      await waitFor("output", async () => (await host.logsTail(c.id, 100)).includes("oops"), 10_000);
      expect(await host.logsTail(c.id, 3)).toBe("line 5\nline 6\noops\n");
      expect(await host.logsTail(c.name, 100)).toBe("line 1\nline 2\nline 3\nline 4\nline 5\nline 6\noops\n");
    });

    check("stops a container that ignores SIGTERM once its timeout passes, and stopping again is fine", async () => {
      const c = await running({ cmd: ["sh", "-c", "trap '' TERM; echo up; while true; do sleep 1; done"] });
      await waitFor("trap set", async () => (await host.logsTail(c.id, 5)).includes("up"), 10_000);
      const started = Date.now();
      await host.stopContainer(c.id, 1);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(900); // it waited the grace period ...
      expect(took).toBeLessThan(8000); // ... and then killed it
      expect((await host.inspectContainer(c.id))?.running).toBe(false);
      await host.stopContainer(c.id, 1);
      expect((await host.inspectContainer(c.id))?.running).toBe(false);
    });

    check("restarts a container, running or stopped", async () => {
      const c = await running({ cmd: ["sh", "-c", "echo boot; exec sleep 3600"] });
      await waitFor("first boot", async () => count(await host.logsTail(c.id, 10), "boot") === 1, 10_000);
      await host.restartContainer(c.id);
      expect((await host.inspectContainer(c.id))?.running).toBe(true);
      await waitFor("second boot", async () => count(await host.logsTail(c.id, 10), "boot") === 2, 10_000);
      await host.stopContainer(c.id, 1);
      await host.restartContainer(c.id);
      expect((await host.inspectContainer(c.id))?.running).toBe(true);
      await waitFor("third boot", async () => count(await host.logsTail(c.id, 10), "boot") === 3, 10_000);
    });

    check("removes a container whether running or stopped, and removing again is fine", async () => {
      const up = await running();
      const down = await running();
      await host.stopContainer(down.id, 1);
      await host.removeContainer(up.id);
      await host.removeContainer(down.name);
      expect(await host.inspectContainer(up.id)).toBeUndefined();
      expect(await host.inspectContainer(down.id)).toBeUndefined();
      await host.removeContainer(up.id);
    });

    check("lists the managed containers, networks and volumes carrying every given label, and nothing unmanaged", async () => {
      const app = uniqueName("conf-app-");
      const labels = (env: string) => ({ "berth.managed": "true", "berth.app": app, "berth.environment": env });
      const [netA, netB] = [await network(labels("a")), await network(labels("b"))];
      const [volA, volB] = [fresh("volume"), fresh("volume")];
      await host.ensureVolume(volA, labels("a"));
      await host.ensureVolume(volB, labels("b"));
      const a = await running({ labels: labels("a"), network: netA });
      const b = fresh("container");
      await host.createContainer({ name: b, Image: BUSYBOX, Cmd: ["true"], Labels: labels("b"), HostConfig: { NetworkMode: netB } });
      await running({ labels: { "berth.app": app, "berth.environment": "a" } }); // not berth.managed
      await network({ "berth.app": app, "berth.environment": "a" });

      const all = await host.listManaged({ "berth.app": app });
      expect(all.containers.map((c) => c.name).sort()).toEqual([a.name, b].sort());
      expect(all.networks.map((n) => n.name).sort()).toEqual([netA, netB].sort());
      expect(all.volumes.map((v) => v.name).sort()).toEqual([volA, volB].sort());
      expect(await host.listManaged({ "berth.app": app, "berth.environment": "a" })).toEqual({
        containers: [{ id: a.id, name: a.name, running: true, image: BUSYBOX, labels: own(labels("a")), networks: [netA] }],
        networks: [{ name: netA, labels: own(labels("a")) }],
        volumes: [{ name: volA, labels: own(labels("a")) }],
      });
      expect(await host.listManaged({ "berth.app": app, "berth.environment": "c" })).toEqual({ containers: [], networks: [], volumes: [] });
    });

    check("lists containers with Docker's health state, for autoheal", async () => {
      const app = uniqueName("conf-app-");
      const labels = { "berth.managed": "true", "berth.app": app };
      const check = (cmd: string) => ({ Test: ["CMD", cmd], Interval: SECOND / 2, Timeout: SECOND, Retries: 1 });
      const make = async (healthcheck?: ReturnType<typeof check>): Promise<string> => {
        const n = fresh("container");
        await host.startContainer(await host.createContainer({ name: n, Image: BUSYBOX, Cmd: ["sleep", "3600"], Labels: labels, Healthcheck: healthcheck, HostConfig: { Init: true } }));
        return n;
      };
      const [healthy, unhealthy, plain] = [await make(check("true")), await make(check("false")), await make()];
      const health = async () => Object.fromEntries((await host.listManaged({ "berth.app": app })).containers.map((c) => [c.name, c.health]));
      const seen = await waitFor("health settled", async () => {
        const h = await health();
        return h[healthy] === "healthy" && h[unhealthy] === "unhealthy" ? h : undefined;
      }, 20_000, 250);
      expect(seen).toEqual({ [healthy]: "healthy", [unhealthy]: "unhealthy", [plain]: undefined });
    });

    check("removes a network with a container still attached, leaving the container; removing again is fine", async () => {
      const app = uniqueName("conf-app-");
      const labels = { "berth.managed": "true", "berth.app": app };
      const net = await network(labels);
      const keep = await network();
      const c = await running({ network: net });
      await host.connect(keep, c.name);
      await host.removeNetwork(net);
      expect((await host.listManaged({ "berth.app": app })).networks).toEqual([]);
      expect(await host.inspectContainer(c.name)).toMatchObject({ running: true, networks: [keep] });
      await host.removeNetwork(net);
    });

    check("creates a volume once, keeping its data when ensured again, and removes it (twice is fine)", async () => {
      const app = uniqueName("conf-app-");
      const labels = { "berth.managed": "true", "berth.app": app };
      const vol = fresh("volume");
      await Promise.all([host.ensureVolume(vol, labels), host.ensureVolume(vol, labels)]);
      const run = (script: string) =>
        host.runOnce({ name: fresh("container"), Image: BUSYBOX, Cmd: ["sh", "-c", script], HostConfig: { Binds: [`${vol}:/data`] } }, 30_000);
      expect(await run("echo kept > /data/file")).toEqual({ exitCode: 0, output: "" });
      await host.ensureVolume(vol, { ...labels, "berth.other": "ignored" });
      expect(await run("cat /data/file")).toEqual({ exitCode: 0, output: "kept\n" });
      expect((await host.listManaged({ "berth.app": app })).volumes).toEqual([{ name: vol, labels: own(labels) }]);
      await host.removeVolume(vol);
      expect((await host.listManaged({ "berth.app": app })).volumes).toEqual([]);
      await host.removeVolume(vol);
    });

    check("lists the tags of the images carrying every given label", async () => {
      const mark = uniqueName("conf-");
      const tag = await image([`LABEL berth.test=${mark} berth.kind=fixture`]);
      const second = tag.replace(/:v1$/, ":v2");
      await engine.getImage(tag).tag({ repo: tag.slice(0, tag.lastIndexOf(":")), tag: "v2" });
      expect((await host.listImages({ "berth.test": mark })).sort()).toEqual([tag, second]);
      expect((await host.listImages({ "berth.test": mark, "berth.kind": "fixture" })).sort()).toEqual([tag, second]);
      expect(await host.listImages({ "berth.test": mark, "berth.kind": "other" })).toEqual([]);
    });

    check("keeps an image a container still uses (false), removes it once unused (true), and a missing one counts as removed", async () => {
      const mark = uniqueName("conf-");
      const tag = await image([`LABEL berth.test=${mark}`]);
      const user = fresh("container");
      await host.createContainer({ name: user, Image: tag, Cmd: ["true"] }); // never started: still uses it
      expect(await host.removeImage(tag)).toBe(false);
      expect(await host.listImages({ "berth.test": mark })).toEqual([tag]);
      await host.removeContainer(user);
      expect(await host.removeImage(tag)).toBe(true);
      expect(await host.listImages({ "berth.test": mark })).toEqual([]);
      expect(await host.removeImage(tag)).toBe(true);
    });

    check("tags an image, saves it as an archive and loads that back, and says which images it has", async () => {
      const mark = uniqueName("conf-");
      const tag = await image([`LABEL berth.test=${mark}`]);
      const second = tag.replace(/:v1$/, ":moved");
      await host.tagImage(tag, second);
      expect((await host.listImages({ "berth.test": mark })).sort()).toEqual([second, tag].sort());
      const chunks: Buffer[] = [];
      for await (const chunk of await host.saveImage(tag)) chunks.push(Buffer.from(chunk as Buffer));
      expect(await host.removeImage(second)).toBe(true);
      expect(await host.removeImage(tag)).toBe(true);
      expect(await host.hasImage(tag)).toBe(false);
      await host.loadImage(Readable.from([Buffer.concat(chunks)]), 60_000);
      expect(await host.hasImage(tag)).toBe(true);
      expect(await host.listImages({ "berth.test": mark })).toEqual([tag]);
      await expect(host.loadImage(Readable.from([Buffer.from("no archive")]), 60_000)).rejects.toThrow(/loading an image on .* failed/);
    });

    check("uses an image that is present as is, and rejects one it cannot pull", async () => {
      // No registry is reachable from the test machine: resolving here means no pull was attempted.
      await host.ensureImage(BUSYBOX);
      await expect(host.ensureImage(`${uniqueName("berth-conf-missing-")}:nope`)).rejects.toThrow();
    });

    check("runs a container to completion: its exit code and output, and removes it", async () => {
      const ok = fresh("container");
      expect(await host.runOnce({ name: ok, Image: BUSYBOX, Cmd: ["sh", "-c", "echo done"] }, 30_000)).toEqual({ exitCode: 0, output: "done\n" });
      const failing = fresh("container");
      const r = await host.runOnce({ name: failing, Image: BUSYBOX, Cmd: ["sh", "-c", "echo out; sleep 0.1; echo err >&2; exit 3"] }, 30_000);
      expect(r).toEqual({ exitCode: 3, output: "out\nerr\n" });
      expect(await host.inspectContainer(ok)).toBeUndefined();
      expect(await host.inspectContainer(failing)).toBeUndefined();
    });

    check("kills a run that outlasts its timeout, reports it with exit code -1 and its output, and removes it", async () => {
      const n = fresh("container");
      const started = Date.now();
      const r = await host.runOnce({ name: n, Image: BUSYBOX, Cmd: ["sh", "-c", "echo waiting; exec sleep 60"] }, 1000);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(r.exitCode).toBe(-1);
      expect(r.output).toContain("waiting\n");
      expect(r.output).toContain("killed after 1s");
      expect(await host.inspectContainer(n)).toBeUndefined();
    });

    check("bounds an exec: its output to head and tail, its wait to a deadline", async () => {
      const c = await running();
      const { output } = await host.exec(c.name, ["sh", "-c", "echo first; yes | head -c 300000; echo last"]);
      expect(output.startsWith("first\n")).toBe(true);
      expect(output.endsWith("y\nlast\n")).toBe(true);
      expect(output).toMatch(/\n\[\.\.\. \d+ characters of output cut \.\.\.\]\n/);
      expect(output.length).toBeLessThan(64 * 1024 + 100);
      const started = Date.now();
      await expect(host.exec(c.name, ["sleep", "30"], { timeoutMs: 1000 })).rejects.toThrow(/^sleep 30 was still running after 1s; berth stopped waiting for it/);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    check("runs a container once, keeping the head and tail of a long output, and kills it at its deadline", async () => {
      const run = await host.runOnce({ Image: BUSYBOX, Cmd: ["sh", "-c", "echo first; yes | head -c 3000000; echo last; exit 3"] }, 30_000);
      expect(run.exitCode).toBe(3);
      expect(run.output.startsWith("first\n")).toBe(true);
      expect(run.output.endsWith("y\nlast\n")).toBe(true);
      expect(run.output.length).toBeLessThan(1024 * 1024 + 100);
      const killed = await host.runOnce({ Image: BUSYBOX, Cmd: ["sh", "-c", "echo waiting; sleep 60"] }, 1000);
      expect(killed).toEqual({ exitCode: -1, output: "waiting\n\n(killed after 1s)" });
    });

    check("execs a command: its output on success, an ExecError with argv, exit code and output on failure", async () => {
      const c = await running();
      expect(await host.exec(c.name, ["sh", "-c", "echo hi; sleep 0.1; echo there >&2"])).toEqual({ exitCode: 0, output: "hi\nthere\n" });
      const argv = ["sh", "-c", "echo partial; echo nope >&2; exit 4"];
      const err = await host.exec(c.name, argv).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ExecError);
      expect(err).toMatchObject({ argv, exitCode: 4 });
      const { stdout, stderr, message } = err as ExecError;
      expect(stdout).toContain("partial");
      expect(stderr).toBe("nope\n"); // kept apart, as STYLE asks of exec errors
      expect(message).toMatch(/^sh -c .* exited with 4: nope$/);
    });

    // A gap naming no test would silently excuse nothing: refuse it when the suite is collected.
    const stray = Object.keys(options.knownGaps ?? {}).filter((t) => !defined.has(t));
    if (stray.length > 0) throw new Error(`knownGaps name no conformance test: ${stray.join("; ")}`);
  });
}
