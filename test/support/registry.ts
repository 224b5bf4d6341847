import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { alive } from "./docker-cleanup.js";
import type { Droid } from "./droid.js";
import { freePort, waitFor } from "./services.js";

/** Where each registry keeps its storage, its owner's pid and its processes: one directory each. */
const ROOT = join(tmpdir(), "berth-registries");

/**
 * Stops the registries of runs that are gone (a killed run never reached stop()): each process it
 * recorded, only while that pid still runs the recorded command line, and its storage.
 */
function sweepRegistries(): void {
  mkdirSync(ROOT, { recursive: true });
  for (const name of readdirSync(ROOT)) {
    const dir = join(ROOT, name);
    const read = (file: string): string => {
      try {
        return readFileSync(join(dir, file), "utf8");
      } catch {
        return "";
      }
    };
    const owner = Number(read("owner"));
    if (!owner || alive(owner)) continue;
    for (const line of read("pids").split("\n").filter(Boolean)) {
      const [pid, ...marker] = line.split(" ");
      const cmdline = (() => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
        } catch {
          return "";
        }
      })();
      if (cmdline.includes(marker.join(" "))) process.kill(Number(pid), "SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Docker registry for tests (Debian's docker-registry), seen as 127.0.0.1:PORT by this machine's engine and by one droid's. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`: a loopback registry, which every engine accepts over plain HTTP. */
  address: string;
  stop(): Promise<void>;
}

/**
 * Starts a registry on a free loopback port, with its storage in a fresh temporary directory, and
 * makes the same address reach it from inside the droid's network namespace: socat on the droid's
 * loopback forwards to the host's end of its veth pair, where a second socat forwards to the
 * registry. Both engines then name it 127.0.0.1:PORT, and neither needs an insecure-registry setting
 * (this machine's engine must never be reconfigured by a test). Needs docker-registry and socat.
 */
export async function startRegistry(droid: Droid): Promise<TestRegistry> {
  sweepRegistries();
  const port = await freePort();
  const dir = mkdtempSync(join(ROOT, "r-"));
  writeFileSync(join(dir, "owner"), String(process.pid));
  const hostEnd = droid.address.replace(/\.2$/, ".1");
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      "",
    ].join("\n"),
  );
  const children: ResultPromise[] = [];
  const spawn = (file: string, args: string[]): void => {
    const child = execa(file, args, { reject: false, stdio: "ignore", cleanup: true });
    children.push(child);
    // nsenter execs socat in place: the pid and the last argument stay the same.
    if (child.pid) appendFileSync(join(dir, "pids"), `${child.pid} ${args.at(-1)}\n`);
  };
  const stop = async (): Promise<void> => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.allSettled(children);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    spawn("docker-registry", ["serve", join(dir, "config.yml")]);
    spawn("socat", [`TCP-LISTEN:${port},bind=${hostEnd},fork,reuseaddr`, `TCP:127.0.0.1:${port}`]);
    spawn("nsenter", [`--net=/var/run/netns/berth-droid-${droid.slot}`, "socat", `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `TCP:${hostEnd}:${port}`]);
    const curl = ["curl", "-sf", "--max-time", "2", `http://127.0.0.1:${port}/v2/`];
    const answers = async (argv: string[]): Promise<boolean> => (await execa(argv[0]!, argv.slice(1), { reject: false })).exitCode === 0;
    await waitFor("the registry on this machine", () => answers(curl), 20_000, 100);
    await waitFor("the registry from the droid", () => answers(["nsenter", `--net=/var/run/netns/berth-droid-${droid.slot}`, ...curl]), 20_000, 100);
  } catch (e) {
    await stop();
    throw e;
  }
  return { address: `127.0.0.1:${port}`, stop };
}
