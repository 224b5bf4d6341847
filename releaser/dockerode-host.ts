import { startContainer } from "./container-start.js";
import Docker from "dockerode";
import tar from "tar-stream";
import { demux, healthOf } from "./docker-wire.js";
import { execIn, loadImage, pullImage, pushImage, runToCompletion } from "./docker-run.js";
import { httpStatus, type HttpTarget } from "./health-check.js";
import { ProbeContainer } from "./probe-container.js";
import { DEFAULT_INSTANCE, LABEL } from "../core/names.js";
import type { ContainerInfo, DockerHost, ManagedResources } from "./docker-host.js";

/** The image of the probe container on remote engines when none is given: the default proxy image, which carries busybox wget. */
const DEFAULT_PROBE_IMAGE = "caddy:2-alpine";

const isStatus = (e: unknown, code: number): boolean => (e as { statusCode?: number }).statusCode === code;

/**
 * DockerHost over the Docker Engine API (dockerode). Everything it creates carries its installation's
 * label, and listManaged sees only that installation's objects, so a reconciler of one berth never
 * removes another's (two installations, or a test suite beside a live berth, may share an engine).
 */
export class DockerodeHost implements DockerHost {
  /** Set when health probes run inside the droid (a remote engine), undefined when berth shares the engine's host. */
  readonly #probe: ProbeContainer | undefined;

  constructor(
    readonly docker: Docker,
    readonly name = "default",
    readonly instance = DEFAULT_INSTANCE,
    options: { probeImage?: string } = {},
  ) {
    // An engine on a unix socket runs on berth's own host, whose bridge addresses berth reaches
    // directly (~1 ms a probe); over tcp:// or ssh:// they belong to another machine.
    const local = Boolean((docker.modem as { socketPath?: unknown }).socketPath);
    this.#probe = local ? undefined : new ProbeContainer(docker, { instance, image: options.probeImage ?? DEFAULT_PROBE_IMAGE, server: name });
  }

  /** Labels with this installation's stamped on. */
  #own(labels: Record<string, string> | undefined): Record<string, string> {
    return { ...labels, [LABEL.instance]: this.instance };
  }

  /** Whether an object belongs to this installation; unlabelled ones predate installation names and are the default's. */
  #mine(labels: Record<string, string> | undefined): boolean {
    return (labels?.[LABEL.instance] ?? DEFAULT_INSTANCE) === this.instance;
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    // One create per name at a time in this process; Docker's CheckDuplicate is best effort and lets
    // two concurrent creates through, after which every call by that name fails as ambiguous.
    const previous = this.#networkCreates.get(name) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(() => this.#ensureNetwork(name, labels));
    this.#networkCreates.set(name, mine);
    try {
      await mine;
    } finally {
      if (this.#networkCreates.get(name) === mine) this.#networkCreates.delete(name);
    }
  }

  readonly #networkCreates = new Map<string, Promise<void>>();

  async #ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.docker.getNetwork(name).inspect();
    } catch (e) {
      if (!isStatus(e, 404) && !/ambiguous/i.test(String((e as Error).message))) throw e;
      if (!isStatus(e, 404)) return this.#dedupeNetwork(name);
      try {
        await this.docker.createNetwork({ Name: name, Driver: "bridge", Labels: this.#own(labels), CheckDuplicate: true });
        // Another process may have created it in the same instant: keep one.
        await this.#dedupeNetwork(name);
      } catch (err) {
        if (isStatus(err, 409)) return; // created meanwhile by a concurrent release
        if (/non-overlapping IPv4 address pool/i.test(String((err as Error).message))) {
          throw new Error(
            `Docker on ${this.name} has no address pool left for network ${name} (every app environment and preview uses one). ` +
              `Give dockerd more pools, e.g. /etc/docker/daemon.json {"default-address-pools":[{"base":"10.210.0.0/16","size":24}]}, and restart it.`,
          );
        }
        throw err;
      }
    }
  }

  /** Removes all but the oldest network of this exact name, if concurrent creates made several. */
  async #dedupeNetwork(name: string): Promise<void> {
    const same = (await this.docker.listNetworks({ filters: JSON.stringify({ name: [name] }) })).filter((n) => n.Name === name);
    if (same.length < 2) return;
    same.sort((a, b) => String(a.Created).localeCompare(String(b.Created)) || a.Id.localeCompare(b.Id));
    for (const extra of same.slice(1)) await this.docker.getNetwork(extra.Id).remove().catch(() => undefined);
  }

  async connect(network: string, container: string): Promise<void> {
    const info = await this.inspectContainer(container);
    if (!info || info.networks.includes(network)) return;
    try {
      await this.docker.getNetwork(network).connect({ Container: container });
    } catch (e) {
      if (!/already exists/i.test(String((e as Error).message))) throw e;
    }
  }

  async kernelVersion(): Promise<string | undefined> {
    const info = (await this.docker.info()) as { KernelVersion?: unknown };
    return typeof info.KernelVersion === "string" ? info.KernelVersion : undefined;
  }

  async imageExposedPorts(image: string): Promise<Record<string, unknown> | undefined> {
    const info = await this.docker.getImage(image).inspect();
    return info.Config?.ExposedPorts;
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    return (await this.docker.createContainer({ ...options, Labels: this.#own(options.Labels) })).id;
  }

  async startContainer(id: string): Promise<void> {
    await startContainer(this.docker.getContainer(id));
  }


  async inspectContainer(idOrName: string): Promise<ContainerInfo | undefined> {
    try {
      const c = await this.docker.getContainer(idOrName).inspect();
      return {
        id: c.Id,
        name: c.Name.replace(/^\//, ""),
        running: c.State.Running,
        image: c.Config.Image,
        labels: c.Config.Labels ?? {},
        networks: Object.keys(c.NetworkSettings.Networks ?? {}),
      };
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async probeHttp(target: HttpTarget, timeoutMs: number): Promise<number | undefined> {
    if (this.#probe) return this.#probe.probe(target, timeoutMs);
    const c = await this.docker.getContainer(target.container).inspect().catch(() => undefined);
    const ip = c?.NetworkSettings.Networks?.[target.network]?.IPAddress;
    if (!ip) return undefined;
    return httpStatus(ip, target.port, target.path, timeoutMs);
  }

  async logsTail(id: string, lines: number): Promise<string> {
    try {
      const buf = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demux(buf);
    } catch (e) {
      return `(logs unavailable: ${(e as Error).message})`;
    }
  }

  async restartContainer(id: string): Promise<void> {
    await this.docker.getContainer(id).restart({ t: 10 });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (e) {
      if (!isStatus(e, 304) && !isStatus(e, 404)) throw e;
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (e) {
      if (!isStatus(e, 404) && !isStatus(e, 409)) throw e;
    }
  }

  async putFile(container: string, path: string, content: string): Promise<void> {
    // Extracted at / with the whole path in the entry, so missing parent directories are created.
    const pack = tar.pack();
    pack.entry({ name: path.replace(/^\/+/, ""), mode: 0o644 }, content);
    pack.finalize();
    await this.docker.getContainer(container).putArchive(pack, { path: "/" });
  }

  async listManaged(labels: Record<string, string>): Promise<ManagedResources> {
    const filters = JSON.stringify({ label: ["berth.managed=true", ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)] });
    const [containers, networks, volumes] = await Promise.all([
      this.docker.listContainers({ all: true, filters }),
      this.docker.listNetworks({ filters }),
      this.docker.listVolumes({ filters }),
    ]);
    return {
      containers: containers.filter((c) => this.#mine(c.Labels)).map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? "").replace(/^\//, ""),
        running: c.State === "running",
        image: c.Image,
        labels: c.Labels ?? {},
        networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
        ...healthOf(c.Status),
      })),
      networks: networks.filter((n) => this.#mine(n.Labels)).map((n) => ({ name: n.Name, labels: n.Labels ?? {} })),
      volumes: (volumes.Volumes ?? []).filter((v) => this.#mine(v.Labels)).map((v) => ({ name: v.Name, labels: v.Labels ?? {} })),
    };
  }

  async removeNetwork(name: string): Promise<void> {
    const network = this.docker.getNetwork(name);
    try {
      const info = await network.inspect();
      for (const id of Object.keys(info.Containers ?? {})) await network.disconnect({ Container: id, Force: true }).catch(() => undefined);
      await network.remove();
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove();
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }

  async removeImage(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).remove();
      return true;
    } catch (e) {
      if (isStatus(e, 404)) return true;
      if (isStatus(e, 409)) return false; // still used by a container, e.g. production runs the same sha
      throw e;
    }
  }

  async listImages(labels: Record<string, string>): Promise<string[]> {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
    const images = await this.docker.listImages({ filters });
    return images.flatMap((i) => (i.RepoTags ?? []).filter((t) => t !== "<none>:<none>"));
  }

  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.docker.getVolume(name).inspect();
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
      await this.docker.createVolume({ Name: name, Labels: this.#own(labels) });
    }
  }

  async ensureImage(ref: string, timeoutMs?: number): Promise<void> {
    if (await this.hasImage(ref)) return;
    await pullImage(this.docker, ref, this.name, timeoutMs);
  }

  async hasImage(ref: string): Promise<boolean> {
    return (await this.inspectImage(ref)) !== undefined;
  }

  async inspectImage(ref: string): Promise<{ layers: string[]; labels: Record<string, string> } | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { layers: info.RootFS?.Layers ?? [], labels: info.Config?.Labels ?? {} };
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async tagImage(ref: string, as: string): Promise<void> {
    // The tag follows the last colon after the last slash: a registry's port is no tag.
    const colon = as.lastIndexOf(":");
    const [repo, tag] = colon > as.lastIndexOf("/") ? [as.slice(0, colon), as.slice(colon + 1)] : [as, "latest"];
    await this.docker.getImage(ref).tag({ repo, tag });
  }

  async pushImage(ref: string, timeoutMs?: number): Promise<void> {
    await pushImage(this.docker, ref, this.name, timeoutMs);
  }

  async saveImage(ref: string): Promise<NodeJS.ReadableStream> {
    return this.docker.getImage(ref).get();
  }

  async loadImage(tar: NodeJS.ReadableStream, timeoutMs?: number): Promise<void> {
    await loadImage(this.docker, tar, this.name, timeoutMs);
  }

  async runOnce(options: Docker.ContainerCreateOptions, timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    return runToCompletion(this.docker, { ...options, Labels: this.#own(options.Labels) }, timeoutMs);
  }

  async exec(container: string, argv: string[], options: { timeoutMs?: number } = {}): Promise<{ exitCode: number; output: string }> {
    return execIn(this.docker, container, argv, options.timeoutMs);
  }
}
