import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { execa } from "execa";
import { afterAll, beforeAll } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, "droid.sh");
const PROVISION = join(here, "../../scripts/provision-droid.sh");
const ROOT = "/tmp/berth-droids"; // droid.sh's state directories, one per slot
const SLOTS = 8;

/** The stand-in images (scripts/standins.sh) every droid gets, since no droid can pull from a registry here. */
export const STANDIN_IMAGES = ["berth-standin/busybox:latest", "berth-standin/caddy:2", "berth-standin/redis:7"];

/** A client TLS bundle as berth stores it: PEM strings. */
export interface TlsPems {
  ca: string;
  cert: string;
  key: string;
}

/** A simulated remote droid server (test/support/droid.sh): a dockerd in its own network namespace, reached over TLS. */
export interface Droid extends DroidBase {
  /** Its own unix socket, for setup and cleanup that must work whatever the TLS side does. */
  socket: string;
  /** Stops its dockerd only: the host stays up and refuses connections on 2376, as a droid whose engine died. */
  stopEngine(): Promise<void>;
  /** Starts its dockerd again after stopEngine: containers come back by their restart policies. */
  startEngine(): Promise<void>;
}

/** Removes the droids of earlier runs whose process is gone (a killed run never reached its afterAll). */
export async function sweepDroids(): Promise<void> {
  await execa("bash", [SCRIPT, "sweep"]);
}

/** Claims a free slot: mkdir is atomic, so concurrent test files never share one. */
function claimSlot(): number {
  mkdirSync(ROOT, { recursive: true });
  for (let slot = 0; slot < SLOTS; slot++) {
    try {
      mkdirSync(join(ROOT, String(slot)));
    } catch {
      continue;
    }
    writeFileSync(join(ROOT, String(slot), "owner"), String(process.pid));
    return slot;
  }
  throw new Error(`all ${SLOTS} droid slots in ${ROOT} are taken; \`bash ${SCRIPT} sweep\` removes those of dead runs`);
}

/** What every droid has: its slot, address, address pool, client bundle, engine over TLS and its removal. */
interface DroidBase {
  slot: number;
  /** Its address from berth's host (the namespace's end of the veth pair). */
  address: string;
  /** `tcp://ADDRESS:2376`, as an operator registers it. */
  dockerUrl: string;
  /** The address pool its networks come from: blackholed on berth's host. */
  pool: string;
  /** The client bundle provision-droid.sh made (ca.pem, cert.pem, key.pem): `--tls-dir`. */
  tlsDir: string;
  tls: TlsPems;
  /** Its engine over TLS, as berth reaches it. */
  engine: Docker;
  /** Stops its dockerd and removes its namespace, veth, route, mounts and files. */
  stop(): Promise<void>;
}

/** A droid provision-droid.sh set up in full (droid.sh provision), with what the script printed and wrote. */
export interface ProvisionedDroid extends DroidBase {
  /** The script's standard output: the command to run on berth's host. */
  printed: string;
  /** Where it kept the CA and certificates (--dir): server/ and client/. */
  certsDir: string;
  /** The daemon.json it wrote. */
  daemonJson: string;
}

/**
 * Claims a slot, runs setup (which starts the droid's engine with the client bundle in tlsDir) and
 * returns the droid; whatever fails removes what setup made.
 */
async function withSlot<T>(setup: (slot: number, dir: string, address: string) => Promise<{ tlsDir: string; extra: T }>): Promise<DroidBase & T> {
  await sweepDroids();
  const slot = claimSlot();
  const stop = async (): Promise<void> => {
    await execa("bash", [SCRIPT, "down", String(slot)]);
  };
  const address = `10.252.${slot}.2`;
  try {
    const { tlsDir, extra } = await setup(slot, join(ROOT, String(slot)), address);
    const read = (f: string): string => readFileSync(join(tlsDir, f), "utf8");
    const tls = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
    const engine = new Docker({ protocol: "https", host: address, port: 2376, ...tls });
    return { slot, address, dockerUrl: `tcp://${address}:2376`, pool: `10.${230 + slot}.0.0/16`, tlsDir, tls, engine, stop, ...extra };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/**
 * Runs scripts/provision-droid.sh in full on a fresh simulated host (its own network and mount
 * namespaces: this machine's Docker configuration is never touched). Call stop() in afterAll.
 */
export async function provisionDroid(): Promise<ProvisionedDroid> {
  return withSlot(async (slot, dir) => {
    await execa("bash", [SCRIPT, "provision", String(slot), String(process.pid), PROVISION]);
    const certsDir = join(dir, "tls");
    const printed = readFileSync(join(dir, "provision.out"), "utf8");
    const daemonJson = readFileSync(join(dir, "etc-docker", "daemon.json"), "utf8");
    return { tlsDir: join(certsDir, "client"), extra: { printed, certsDir, daemonJson } };
  });
}

/**
 * Starts a droid with certificates made by provision-droid.sh's CA code and the stand-in images
 * loaded (docker save here, docker load there). Call stop() in afterAll.
 */
export async function startDroid(options: { images?: string[] } = {}): Promise<Droid> {
  return withSlot(async (slot, dir, address) => {
    const certs = join(dir, "certs");
    await execa("bash", [PROVISION, "--certs-only", certs, "--hostname", address]);
    await execa("bash", [SCRIPT, "up", String(slot), String(process.pid), join(certs, "server")]);
    const socket = join(dir, "docker.sock");
    const images = options.images ?? STANDIN_IMAGES;
    if (images.length > 0) await execa("docker", ["save", ...images]).pipe("docker", ["-H", `unix://${socket}`, "load", "-q"]);
    const stopEngine = async (): Promise<void> => {
      await execa("bash", [SCRIPT, "stop-engine", String(slot)]);
    };
    const startEngine = async (): Promise<void> => {
      await execa("bash", [SCRIPT, "start-engine", String(slot)]);
    };
    return { tlsDir: join(certs, "client"), extra: { socket, stopEngine, startEngine } };
  });
}

/** Starts a droid in the file's beforeAll and removes it in afterAll; the getter throws when it did not start. */
export function droidForSuite<T extends { stop(): Promise<void> }>(start: () => Promise<T>): () => T {
  let droid: T | undefined;
  beforeAll(async () => {
    droid = await start();
  });
  afterAll(async () => {
    await droid?.stop();
  });
  return () => {
    if (!droid) throw new Error("the droid did not start (see beforeAll)");
    return droid;
  };
}
