import type Docker from "dockerode";
import type { HttpTarget } from "./health-check.js";

export interface ContainerInfo {
  id: string;
  name: string;
  running: boolean;
  image: string;
  labels: Record<string, string>;
  networks: string[];
  /** Docker's health state, for containers with a HEALTHCHECK. */
  health?: "starting" | "healthy" | "unhealthy";
}

export interface ManagedResources {
  containers: ContainerInfo[];
  networks: { name: string; labels: Record<string, string> }[];
  volumes: { name: string; labels: Record<string, string> }[];
}

/**
 * The port to one droid server's Docker engine. Workflows see only this, never whether the engine is
 * local or remote; everything here is idempotent where the name says "ensure".
 */
export interface DockerHost {
  /** Server name stored with releases and routes. */
  readonly name: string;
  ensureNetwork(name: string, labels: Record<string, string>): Promise<void>;
  connect(network: string, container: string): Promise<void>;
  /** The server's kernel release (`uname -r`) as its engine reports it; undefined when it does not say. */
  kernelVersion(): Promise<string | undefined>;
  imageExposedPorts(image: string): Promise<Record<string, unknown> | undefined>;
  createContainer(options: Docker.ContainerCreateOptions): Promise<string>;
  startContainer(id: string): Promise<void>;
  inspectContainer(idOrName: string): Promise<ContainerInfo | undefined>;
  /**
   * One HTTP GET to a container's port on one of its networks, made from this server's side: the
   * status, or undefined when nothing answered within timeoutMs. Workflows never connect to a
   * container's address themselves, since only the droid can reach its bridge networks.
   */
  probeHttp(target: HttpTarget, timeoutMs: number): Promise<number | undefined>;
  logsTail(id: string, lines: number): Promise<string>;
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  restartContainer(id: string): Promise<void>;
  removeContainer(id: string): Promise<void>;
  putFile(container: string, path: string, content: string): Promise<void>;
  /** This installation's berth-managed containers, networks and volumes carrying all of the given labels. */
  listManaged(labels: Record<string, string>): Promise<ManagedResources>;
  /** Removes a network after disconnecting whatever is still attached (the proxy). */
  removeNetwork(name: string): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** Removes an image unless a container still uses it; false when it was kept. */
  removeImage(ref: string): Promise<boolean>;
  ensureVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Tags (repo:tag) of the images carrying all the given labels. */
  listImages(labels: Record<string, string>): Promise<string[]>;
  /** Pulls an image that is not on the server yet (services' public images), within timeoutMs; a present one is used as is. */
  ensureImage(ref: string, timeoutMs?: number): Promise<void>;
  /** Whether an image (tag or id) is on the server. */
  hasImage(ref: string): Promise<boolean>;
  /** An image's layers (diff IDs, bottom first) and labels; undefined when it is not on the server. */
  inspectImage(ref: string): Promise<{ layers: string[]; labels: Record<string, string> } | undefined>;
  /** Gives an image on the server another tag (repo:tag). */
  tagImage(ref: string, as: string): Promise<void>;
  /** Pushes a tagged image to the registry its name starts with, within timeoutMs; the registry skips layers it has. */
  pushImage(ref: string, timeoutMs?: number): Promise<void>;
  /** The image as a `docker save` archive, produced as it is read. */
  saveImage(ref: string): Promise<NodeJS.ReadableStream>;
  /** Loads a `docker save` archive, read at the engine's pace, within timeoutMs; rejects with the engine's error. */
  loadImage(tar: NodeJS.ReadableStream, timeoutMs?: number): Promise<void>;
  /** Runs a container to completion (a release command), killed after timeoutMs: its exit code and output (head and tail); it is removed after. */
  runOnce(options: Docker.ContainerCreateOptions, timeoutMs: number): Promise<{ exitCode: number; output: string }>;
  /** Runs argv in a running container: its output (head and tail); throws ExecError on a non-zero exit, and when it runs past timeoutMs. */
  exec(container: string, argv: string[], options?: { timeoutMs?: number }): Promise<{ exitCode: number; output: string }>;
}
