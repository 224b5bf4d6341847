import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { waitFor } from "./services.js";

/**
 * A Docker engine of its own beside the machine's shared one, to stop and start under a running berth
 * (and, later, to stand in for a remote droid server). Two engines on one host must not meet:
 * - sockets, state, images, containers: its own --host, --data-root, --exec-root, --pidfile and
 *   --config-file, and its containers under a cgroup parent of their own;
 * - docker0: dockerd deletes the interface named docker0 (the shared engine's default bridge, with
 *   every container on it cut off) when started with `--bridge=none`, and when restarted with
 *   `--default-address-pool` (it clears its stale default network, then removes "docker0" by name).
 *   So this engine gets a default bridge made here for it (`--bridge=bcx…`, on a 10.N.255.0/24 no
 *   route uses) and no address pool of its own: its networks come from Docker's built-in pools,
 *   which skip subnets already routed on the host (the shared engine's are in 10.210.0.0/16);
 * - iptables: `--iptables=false`, so it never rewrites the shared engine's chains. Published ports
 *   still work through docker-proxy; traffic between its containers crosses the host's FORWARD chain
 *   (bridge-nf-call-iptables), whose policy the shared engine set to DROP, so rules in DOCKER-USER
 *   (the chain Docker leaves to users) accept Docker's built-in pools to themselves, removed by destroy().
 * Needs root, as dockerd does.
 */
export interface PrivateDockerd {
  /** unix:///run/berth-chaos-…/docker.sock, as BERTH_DOCKER_HOST takes it. */
  url: string;
  docker: Docker;
  /** Copies images from the shared engine (`docker save | docker load`): nothing can be pulled here. */
  load(images: string[]): void;
  /** Stops the engine as an operator's restart does (SIGTERM: it stops its containers first) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same data root; resolves once it answers. */
  start(): Promise<void>;
  /** Removes everything it made: containers, networks, the engine, its bridges, the firewall rules, its directories. */
  destroy(): Promise<void>;
}

export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  const id = randomBytes(3).toString("hex");
  const octet = freeOctet();
  const bridge = `bcx${id}`; // at most 15 characters, as Linux wants
  const run = `/run/berth-chaos-${id}`; // short: containerd's socket lives under --exec-root, and unix socket paths end at 108
  const dir = mkdtempSync(join(tmpdir(), "berth-chaos-dockerd-"));
  mkdirSync(run, { recursive: true });
  writeFileSync(join(dir, "daemon.json"), "{}\n");
  const socket = join(run, "docker.sock");
  const docker = new Docker({ socketPath: socket });
  const firewall = BUILTIN_POOLS.map((pool) => ["DOCKER-USER", "-s", pool, "-d", pool, "-j", "ACCEPT"]);
  const sh = (file: string, ...args: string[]): string => execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  sh("ip", "link", "add", bridge, "type", "bridge");
  sh("ip", "addr", "add", `10.${octet}.255.1/24`, "dev", bridge);
  sh("ip", "link", "set", bridge, "up");
  /** Runs a command for its exit status only: true when it succeeded. */
  const succeeds = (file: string, ...args: string[]): boolean => {
    try {
      sh(file, ...args);
      return true;
    } catch {
      return false;
    }
  };
  const linkExists = (name: string): boolean => succeeds("ip", "link", "show", name);
  // Without the chain no engine on this host runs iptables, and nothing drops forwarded traffic on its behalf.
  const hasDockerUser = succeeds("iptables", "-S", "DOCKER-USER");
  if (hasDockerUser) for (const rule of firewall) sh("iptables", "-I", ...rule);

  const docker0 = linkExists("docker0");
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const log = openSync(join(dir, "dockerd.log"), "a");
    child = spawn(
      "dockerd",
      [
        `--host=unix://${socket}`,
        `--data-root=${join(dir, "data")}`,
        `--exec-root=${join(run, "exec")}`,
        `--pidfile=${join(run, "docker.pid")}`,
        `--config-file=${join(dir, "daemon.json")}`,
        `--bridge=${bridge}`,
        "--iptables=false",
        "--ip-masq=false",
        `--cgroup-parent=berth-chaos-${id}`,
        "--log-level=warn",
      ],
      { stdio: ["ignore", log, log] },
    );
    closeSync(log);
    const c = child;
    await waitFor("the private dockerd to answer", async () => {
      if (c.exitCode !== null) throw new Error(`dockerd exited with ${c.exitCode}; see ${join(dir, "dockerd.log")}`);
      return docker.ping().then(() => true, () => false);
    }, 60_000, 100);
    // Loud, not silent, should a dockerd version find another way to take the shared engine's bridge.
    if (docker0 && !linkExists("docker0")) throw new Error("the private dockerd removed docker0, the shared engine's default bridge: recreate it (ip link add docker0 type bridge; its address is the shared engine's bridge network gateway) and fix private-dockerd.ts");
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await exited;
  };

  await start();
  return {
    url: `unix://${socket}`,
    docker,
    load: (images) => {
      execFileSync("sh", ["-c", 'docker save "$@" | docker -H "$0" load -q', `unix://${socket}`, ...images], { stdio: ["ignore", "ignore", "pipe"] });
    },
    stop,
    start,
    destroy: async () => {
      // Its networks' bridges (br-<id>), named before it stops: an engine that dies leaves them behind.
      const bridges = [bridge];
      if (child?.exitCode === null && child.signalCode === null) {
        for (const c of await docker.listContainers({ all: true }).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
        for (const n of await docker.listNetworks().catch(() => [])) {
          if (n.Driver !== "bridge" || n.Name === "bridge") continue;
          bridges.push(n.Options?.["com.docker.network.bridge.name"] ?? `br-${n.Id.slice(0, 12)}`);
          await docker.getNetwork(n.Id).remove().catch(() => undefined);
        }
      }
      await stop();
      for (const b of bridges) succeeds("ip", "link", "del", b); // most went with their networks
      if (hasDockerUser) for (const rule of firewall) succeeds("iptables", "-D", ...rule);
      rmSync(dir, { recursive: true, force: true });
      rmSync(run, { recursive: true, force: true });
    },
  };
}

/** Docker's built-in address pools, where this engine's networks come from. */
const BUILTIN_POOLS = ["172.16.0.0/12", "192.168.0.0/16"];

/** N for a 10.N.0.0/16 that no route on this host covers yet (the shared engine and other private ones included). */
function freeOctet(): number {
  const routes = execFileSync("ip", ["-4", "route"], { encoding: "utf8" });
  const used = new Set([...routes.matchAll(/^10\.(\d+)\./gm)].map((m) => Number(m[1])));
  const free = Array.from({ length: 30 }, (_, i) => 220 + i).filter((n) => !used.has(n));
  const pick = free[Math.floor(Math.random() * free.length)];
  if (pick === undefined) throw new Error("no free 10.N.0.0/16 between 10.220 and 10.249 for a private dockerd's default bridge");
  return pick;
}
