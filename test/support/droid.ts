import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { execa } from "execa";

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
export interface Droid {
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
  /** Its own unix socket, for setup and cleanup that must work whatever the TLS side does. */
  socket: string;
  /** Stops its dockerd only: the host stays up and refuses connections on 2376, as a droid whose engine died. */
  stopEngine(): Promise<void>;
  /** Stops its dockerd and removes its namespace, veth, route, mounts and files. */
  stop(): Promise<void>;
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

/** A droid provision-droid.sh set up in full (droid.sh provision): its address, client bundle and what the script printed. */
export interface ProvisionedDroid {
  address: string;
  /** The script's standard output: the command to run on berth's host. */
  printed: string;
  /** Where it kept the CA and certificates (--dir): server/ and client/. */
  tlsDir: string;
  /** The daemon.json it wrote. */
  daemonJson: string;
  engine: Docker;
  pool: string;
  slot: number;
  stop(): Promise<void>;
}

/**
 * Runs scripts/provision-droid.sh in full on a fresh simulated host (its own network and mount
 * namespaces: this machine's Docker configuration is never touched). Call stop() in afterAll.
 */
export async function provisionDroid(): Promise<ProvisionedDroid> {
  await sweepDroids();
  const slot = claimSlot();
  const dir = join(ROOT, String(slot));
  const stop = async (): Promise<void> => {
    await execa("bash", [SCRIPT, "down", String(slot)]);
  };
  try {
    await execa("bash", [SCRIPT, "provision", String(slot), String(process.pid), PROVISION]);
    const tlsDir = join(dir, "tls");
    const read = (f: string): string => readFileSync(join(tlsDir, "client", f), "utf8");
    const address = `10.252.${slot}.2`;
    return {
      address,
      printed: readFileSync(join(dir, "provision.out"), "utf8"),
      tlsDir,
      daemonJson: readFileSync(join(dir, "etc-docker", "daemon.json"), "utf8"),
      engine: new Docker({ protocol: "https", host: address, port: 2376, ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") }),
      pool: `10.${230 + slot}.0.0/16`,
      slot,
      stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/**
 * Starts a droid with certificates made by provision-droid.sh's CA code and the stand-in images
 * loaded (docker save here, docker load there). Call stop() in afterAll.
 */
export async function startDroid(options: { images?: string[] } = {}): Promise<Droid> {
  await sweepDroids();
  const slot = claimSlot();
  const dir = join(ROOT, String(slot));
  const address = `10.252.${slot}.2`;
  const stop = async (): Promise<void> => {
    await execa("bash", [SCRIPT, "down", String(slot)]);
  };
  try {
    const certs = join(dir, "certs");
    await execa("bash", [PROVISION, "--certs-only", certs, "--hostname", address]);
    await execa("bash", [SCRIPT, "up", String(slot), String(process.pid), join(certs, "server")]);
    const socket = join(dir, "docker.sock");
    const images = options.images ?? STANDIN_IMAGES;
    if (images.length > 0) await execa("docker", ["save", ...images]).pipe("docker", ["-H", `unix://${socket}`, "load", "-q"]);
    const tlsDir = join(certs, "client");
    const read = (f: string): string => readFileSync(join(tlsDir, f), "utf8");
    const tls = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
    return {
      slot,
      address,
      dockerUrl: `tcp://${address}:2376`,
      pool: `10.${230 + slot}.0.0/16`,
      tlsDir,
      tls,
      engine: new Docker({ protocol: "https", host: address, port: 2376, ...tls }),
      socket,
      stopEngine: async () => {
        await execa("bash", [SCRIPT, "stop-engine", String(slot)]);
      },
      stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
