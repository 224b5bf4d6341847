import { isStaleTask, startContainer } from "./container-start.js";
import type Docker from "dockerode";
import { LABEL } from "../core/names.js";
import { ExecTimeoutError, execOutput, pullImage } from "./docker-run.js";
import type { HttpTarget } from "./health-check.js";
import { planHttpProbe, probeStatus } from "./http-probe-plan.js";

const isStatus = (e: unknown, code: number): boolean => (e as { statusCode?: number }).statusCode === code;

/**
 * Health probes made on a droid's own side: one long-lived container per installation and engine,
 * `<instance>-probe`, joins the app networks it is asked about and runs busybox wget there by exec.
 * berth then needs nothing but the Engine API, as on a remote server whose bridge addresses only
 * the server itself can reach. Its image is the proxy's (present on every droid, carrying wget).
 */
export class ProbeContainer {
  #ready: Promise<string> | undefined;
  /** Networks it was connected to; forgotten when a probe there gets no answer (the network may be new). */
  readonly #joined = new Set<string>();

  constructor(
    readonly docker: Docker,
    readonly options: { instance: string; image: string; server: string },
  ) {}

  get name(): string {
    return `${this.options.instance}-probe`;
  }

  /** One HTTP GET to target from inside the droid: its status, or undefined when nothing answered within timeoutMs. */
  async probe(target: HttpTarget, timeoutMs: number): Promise<number | undefined> {
    const c = await this.docker.getContainer(target.container).inspect().catch(() => undefined);
    const ip = c?.NetworkSettings.Networks?.[target.network]?.IPAddress;
    if (!ip) return undefined;
    const name = await this.#ensure();
    const argv = planHttpProbe(ip, target.port, target.path, timeoutMs);
    let output: string;
    try {
      await this.#join(name, target.network);
      // A little past the in-container deadline, which `timeout` enforces there.
      output = (await execOutput(this.docker, name, argv, timeoutMs + 3000)).output.toString();
    } catch (e) {
      if (e instanceof ExecTimeoutError) output = e.stdout;
      else if (isStatus(e, 404) || isStatus(e, 409)) {
        // Removed or stopped under us: no answer this time; the next probe makes it anew.
        this.#ready = undefined;
        return undefined;
      } else throw e;
    }
    const status = probeStatus(output);
    if (status === undefined) this.#joined.delete(target.network);
    return status;
  }

  /** The running probe container's name, created (and its image pulled) on first use. */
  #ensure(): Promise<string> {
    this.#ready ??= this.#start().catch((e: unknown) => {
      this.#ready = undefined;
      throw e;
    });
    return this.#ready;
  }

  async #start(): Promise<string> {
    const existing = await this.docker.getContainer(this.name).inspect().catch((e: unknown) => {
      if (isStatus(e, 404)) return undefined;
      throw e;
    });
    if (existing?.State.Running) return this.name;
    if (!existing) await this.#create();
    this.#joined.clear();
    // By id: another berth process may replace a stale one by the same name at the same time.
    const id = existing?.Id ?? (await this.docker.getContainer(this.name).inspect()).Id;
    try {
      // Its restart policy may start it that instant itself, after an engine restart.
      await startContainer(this.docker.getContainer(id));
    } catch (e) {
      if (!isStaleTask(e)) throw e;
      // containerd holds a task for it that an engine killed in the middle of starting it left behind,
      // which no start of this container gets past. It holds nothing: a new one (a new id) takes its place.
      await this.docker.getContainer(id).remove({ force: true }).catch((err: unknown) => {
        if (!isStatus(err, 404) && !isStatus(err, 409)) throw err; // gone, or being removed by another process
      });
      await this.#create();
      await startContainer(this.docker.getContainer(this.name));
    }
    return this.name;
  }

  async #create(): Promise<void> {
    if (!(await this.docker.getImage(this.options.image).inspect().then(() => true, () => false))) {
      await pullImage(this.docker, this.options.image, this.options.server);
    }
    try {
      await this.docker.createContainer({
        name: this.name,
        Image: this.options.image,
        // Idles until removed. As pid 1 it ignores SIGTERM: an engine stopping would wait 10 s for it.
        Entrypoint: ["sleep"],
        Cmd: ["2147483647"],
        StopSignal: "SIGKILL",
        Labels: { [LABEL.role]: "probe", [LABEL.instance]: this.options.instance },
        HostConfig: { RestartPolicy: { Name: "unless-stopped" }, LogConfig: { Type: "none", Config: {} } },
      });
    } catch (e) {
      if (!isStatus(e, 409)) throw e; // another berth process made it this instant
    }
  }

  async #join(name: string, network: string): Promise<void> {
    if (this.#joined.has(network)) return;
    const info = await this.docker.getContainer(name).inspect();
    if (!info.NetworkSettings.Networks?.[network]) {
      await this.docker.getNetwork(network).connect({ Container: name }).catch((e: unknown) => {
        if (!/already exists/i.test(String((e as Error).message))) throw e;
      });
    }
    this.#joined.add(network);
  }
}
