import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type Docker from "dockerode";
import { ExecError } from "../../../core/errors.js";
import type { ContainerInfo, DockerHost, ManagedResources } from "../../../releaser/docker-host.js";
import type { HttpTarget } from "../../../releaser/health-check.js";

/** A container as the fake engine holds it: what it was created from, and what happened to it since. */
export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  networks: Set<string>;
  running: boolean;
  /** Ever started (a stopped container keeps this). */
  started: boolean;
  restarts: number;
  health?: "starting" | "healthy" | "unhealthy";
  /** The create options exactly as the engine received them. */
  options: Docker.ContainerCreateOptions;
  files: Map<string, string>;
  logs: string;
}

export interface FakeImage {
  ref: string;
  labels: Record<string, string>;
  exposedPorts?: Record<string, unknown>;
}

/** What a scripted exec or runOnce answers. */
export interface RunResult {
  exitCode: number;
  output: string;
}

/** An error shaped like dockerode's, whose statusCode the driver and workflows branch on. */
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(`(HTTP code ${statusCode}) ${message}`);
  }
}

const notFound = (what: string): EngineError => new EngineError(404, `no such ${what}`);
const hasLabels = (have: Record<string, string>, want: Record<string, string>): boolean => Object.entries(want).every(([k, v]) => have[k] === v);

/**
 * An in-memory Docker engine behind the DockerHost port: containers with state, labels and networks;
 * networks, volumes and images with labels and EXPOSE. A missing object is a 404 where the real engine
 * answers one, and the driver's "absent is fine" cases stay fine; ensure* is idempotent. What the
 * containers' programs do is the test's to say: `http` answers health probes, `onExec` and `onRunOnce`
 * script commands. Everything it was asked to do is kept for assertions.
 */
export class FakeDockerHost implements DockerHost {
  readonly containers = new Map<string, FakeContainer>();
  readonly networks = new Map<string, Record<string, string>>();
  readonly volumes = new Map<string, Record<string, string>>();
  readonly images = new Map<string, FakeImage>();
  /** Images pulled by ensureImage, in order. */
  readonly pulls: string[] = [];
  /** Images pushed, in order; what they carry lands in `registry`, which fakes may share. */
  readonly pushes: string[] = [];
  /** Images loaded from an archive, in order. */
  readonly loads: string[] = [];
  /** Every exec: container name and argv. */
  readonly execs: { container: string; argv: string[] }[] = [];
  /** Every runOnce's create options and timeout. */
  readonly runs: { options: Docker.ContainerCreateOptions; timeoutMs: number }[] = [];
  /** Every container ever created, in order, including removed ones. */
  readonly created: FakeContainer[] = [];
  /** Names of containers removed, in order. */
  readonly removed: string[] = [];

  /**
   * The HTTP status a container's program answers on a port and path (by container name); undefined:
   * nothing answers. Only running containers on the probed network are reachable.
   */
  http: (container: FakeContainer, target: HttpTarget) => number | undefined = () => 200;
  /** What an exec in a running container returns; a non-zero exit throws as the driver does. */
  onExec: (container: FakeContainer, argv: string[]) => RunResult = () => ({ exitCode: 0, output: "" });
  /** Runs when a container starts: the test plays its program here (prints logs, exits). */
  onStart: (container: FakeContainer) => void = () => undefined;
  /** What a one-off container (a release command) returns. */
  onRunOnce: (options: Docker.ContainerCreateOptions) => RunResult = () => ({ exitCode: 0, output: "" });

  constructor(
    readonly name = "default",
    readonly registry = new Map<string, FakeImage>(),
  ) {}

  /** Puts an image on the engine, as a build or a pull would. */
  addImage(ref: string, image: Omit<FakeImage, "ref"> = { labels: {} }): void {
    this.images.set(ref, { ref, ...image });
  }

  /** The container with this id or name. */
  find(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.name === idOrName);
  }

  /** Containers carrying all the given labels, in creation order. */
  withLabels(labels: Record<string, string>): FakeContainer[] {
    return [...this.containers.values()].filter((c) => hasLabels(c.labels, labels));
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    if (!this.networks.has(name)) this.networks.set(name, { ...labels });
  }

  async connect(network: string, container: string): Promise<void> {
    const c = this.find(container);
    if (!c || c.networks.has(network)) return;
    if (!this.networks.has(network)) throw notFound(`network ${network}`);
    c.networks.add(network);
  }

  /** What the fake engine reports as its kernel; a test sets an old one to see the proxy without the sysctl. */
  kernel: string | undefined = "6.1.0-28-amd64";

  async kernelVersion(): Promise<string | undefined> {
    return this.kernel;
  }

  async imageExposedPorts(image: string): Promise<Record<string, unknown> | undefined> {
    const found = this.images.get(image);
    if (!found) throw notFound(`image: ${image}`);
    return found.exposedPorts;
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    const image = options.Image ?? "";
    if (!this.images.has(image)) throw notFound(`image: ${image}`);
    const name = options.name ?? randomBytes(6).toString("hex");
    if (this.find(name)) throw new EngineError(409, `Conflict. The container name "/${name}" is already in use`);
    const networks = new Set<string>();
    const mode = options.HostConfig?.NetworkMode;
    if (mode && mode !== "default" && mode !== "bridge") networks.add(mode);
    for (const n of Object.keys(options.NetworkingConfig?.EndpointsConfig ?? {})) networks.add(n);
    for (const n of networks) if (!this.networks.has(n)) throw notFound(`network ${n}`);
    for (const m of options.HostConfig?.Mounts ?? []) {
      if (m.Type === "volume" && m.Source && !this.volumes.has(m.Source)) this.volumes.set(m.Source, {}); // the engine creates it, unlabelled
    }
    const c: FakeContainer = {
      id: randomBytes(32).toString("hex"),
      name,
      image,
      labels: { ...options.Labels },
      networks,
      running: false,
      started: false,
      restarts: 0,
      health: options.Healthcheck ? "starting" : undefined,
      options: structuredClone(options),
      files: new Map(),
      logs: "",
    };
    this.containers.set(c.id, c);
    this.created.push(c);
    return c.id;
  }

  async startContainer(id: string): Promise<void> {
    const c = this.find(id);
    if (!c) throw notFound(`container: ${id}`);
    if (c.running) return; // 304: already running
    c.running = true;
    c.started = true;
    this.onStart(c);
  }

  async inspectContainer(idOrName: string): Promise<ContainerInfo | undefined> {
    const c = this.find(idOrName);
    return c && this.#info(c, false);
  }

  async probeHttp(target: HttpTarget, _timeoutMs: number): Promise<number | undefined> {
    const c = this.find(target.container);
    if (!c?.running || !c.networks.has(target.network)) return undefined;
    return this.http(c, target);
  }

  async logsTail(id: string, lines: number): Promise<string> {
    const c = this.find(id);
    if (!c) return `(logs unavailable: no such container: ${id})`;
    return c.logs.split("\n").slice(-lines - 1).join("\n");
  }

  async stopContainer(id: string, _timeoutSeconds: number): Promise<void> {
    const c = this.find(id);
    if (c) c.running = false;
  }

  async restartContainer(id: string): Promise<void> {
    const c = this.find(id);
    if (!c) throw notFound(`container: ${id}`);
    c.running = true;
    c.started = true;
    c.restarts++;
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.find(id);
    if (!c) return;
    this.containers.delete(c.id);
    this.removed.push(c.name);
  }

  async putFile(container: string, path: string, content: string): Promise<void> {
    const c = this.find(container);
    if (!c) throw notFound(`container: ${container}`);
    c.files.set(path, content);
  }

  async listManaged(labels: Record<string, string>): Promise<ManagedResources> {
    const want = { "berth.managed": "true", ...labels };
    return {
      containers: this.withLabels(want).map((c) => this.#info(c, true)),
      networks: [...this.networks].filter(([, l]) => hasLabels(l, want)).map(([name, l]) => ({ name, labels: { ...l } })),
      volumes: [...this.volumes].filter(([, l]) => hasLabels(l, want)).map(([name, l]) => ({ name, labels: { ...l } })),
    };
  }

  async removeNetwork(name: string): Promise<void> {
    if (!this.networks.has(name)) return;
    for (const c of this.containers.values()) c.networks.delete(name);
    this.networks.delete(name);
  }

  async removeVolume(name: string): Promise<void> {
    if (!this.volumes.has(name)) return;
    const user = [...this.containers.values()].find((c) => c.options.HostConfig?.Mounts?.some((m) => m.Source === name));
    if (user) throw new EngineError(409, `remove ${name}: volume is in use - [${user.id}]`);
    this.volumes.delete(name);
  }

  async removeImage(ref: string): Promise<boolean> {
    if (!this.images.has(ref)) return true;
    if ([...this.containers.values()].some((c) => c.image === ref)) return false;
    this.images.delete(ref);
    return true;
  }

  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    if (!this.volumes.has(name)) this.volumes.set(name, { ...labels });
  }

  async listImages(labels: Record<string, string>): Promise<string[]> {
    return [...this.images.values()].filter((i) => hasLabels(i.labels, labels)).map((i) => i.ref);
  }

  async ensureImage(ref: string): Promise<void> {
    if (this.images.has(ref)) return;
    this.pulls.push(ref);
    const pushed = this.registry.get(ref);
    this.addImage(ref, pushed ? { labels: pushed.labels, exposedPorts: pushed.exposedPorts } : { labels: {} });
  }

  async hasImage(ref: string): Promise<boolean> {
    return this.images.has(ref);
  }

  /** Fake images have one layer, named after the image. */
  async inspectImage(ref: string): Promise<{ layers: string[]; labels: Record<string, string> } | undefined> {
    const image = this.images.get(ref);
    return image ? { layers: [`sha256:${ref}`], labels: { ...image.labels } } : undefined;
  }

  async tagImage(ref: string, as: string): Promise<void> {
    const image = this.images.get(ref);
    if (!image) throw notFound(`image: ${ref}`);
    this.addImage(as, { labels: image.labels, exposedPorts: image.exposedPorts });
  }

  async pushImage(ref: string): Promise<void> {
    const image = this.images.get(ref);
    if (!image) throw notFound(`image: ${ref}`);
    this.pushes.push(ref);
    this.registry.set(ref, { ...image });
  }

  /** The fake archive: the image as JSON. */
  async saveImage(ref: string): Promise<NodeJS.ReadableStream> {
    const image = this.images.get(ref);
    if (!image) throw notFound(`image: ${ref}`);
    return Readable.from([JSON.stringify(image)]);
  }

  async loadImage(tar: NodeJS.ReadableStream): Promise<void> {
    let text = "";
    for await (const chunk of tar) text += String(chunk);
    const image = JSON.parse(text) as FakeImage;
    this.loads.push(image.ref);
    this.images.set(image.ref, image);
  }

  async runOnce(options: Docker.ContainerCreateOptions, timeoutMs: number): Promise<RunResult> {
    const image = options.Image ?? "";
    if (!this.images.has(image)) throw notFound(`image: ${image}`);
    this.runs.push({ options: structuredClone(options), timeoutMs });
    return this.onRunOnce(options);
  }

  async exec(container: string, argv: string[]): Promise<RunResult> {
    const c = this.find(container);
    if (!c) throw notFound(`container: ${container}`);
    if (!c.running) throw new EngineError(409, `Container ${c.id} is not running`);
    this.execs.push({ container: c.name, argv: [...argv] });
    const r = this.onExec(c, argv);
    if (r.exitCode !== 0) throw new ExecError(argv, r.exitCode, r.output, "");
    return r;
  }

  /** As the driver reports it: Docker's health state only in listings (from the status text). */
  #info(c: FakeContainer, withHealth: boolean): ContainerInfo {
    return {
      id: c.id,
      name: c.name,
      running: c.running,
      image: c.image,
      labels: { ...c.labels },
      networks: [...c.networks],
      ...(withHealth && c.health ? { health: c.health } : {}),
    };
  }
}

/** The env a container was created with, as an object. */
export function envOf(options: Docker.ContainerCreateOptions): Record<string, string> {
  return Object.fromEntries((options.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}
