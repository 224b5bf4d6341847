import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./services.js";

/** A DNS server on loopback for one test file: dnsmasq answering only from a hosts file the test rewrites. */
export interface TestDns {
  /** host:port, as BERTH_DNS_SERVER takes it. */
  server: string;
  /** Replaces every record: name → IPv4 address. dnsmasq reads the file again on SIGHUP. */
  set(records: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startDns(records: Record<string, string> = {}): Promise<TestDns> {
  const dir = mkdtempSync(join(tmpdir(), "berth-dns-"));
  const hosts = join(dir, "hosts");
  const write = (r: Record<string, string>) => writeFileSync(hosts, Object.entries(r).map(([name, ip]) => `${ip} ${name}\n`).join(""));
  write(records);
  const port = await freePort();
  const bin = existsSync("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : "dnsmasq";
  const child: ChildProcess = spawn(bin, ["--keep-in-foreground", "--no-resolv", "--no-hosts", "--local=/#/", `--addn-hosts=${hosts}`, "--listen-address=127.0.0.1", "--bind-interfaces", `--port=${port}`, "--cache-size=0", "--user=root", `--pid-file=${join(dir, "pid")}`, "--log-facility=-"], { stdio: "ignore" });
  const dns = await import("node:dns/promises");
  const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  // Any answer, even "no such name", means it listens.
  await waitFor("dnsmasq answering", () => resolver.resolve4("ready.invalid").then(() => true, (e: NodeJS.ErrnoException) => e.code === "ENOTFOUND" || e.code === "ENODATA" || e.code === "EREFUSED"), 10_000, 100);
  return {
    server: `127.0.0.1:${port}`,
    set: async (r) => {
      write(r);
      child.kill("SIGHUP");
      const [name, ip] = Object.entries(r)[0] ?? [];
      if (name) await waitFor(`dnsmasq answering ${name}`, () => resolver.resolve4(name).then((a) => a.includes(ip ?? ""), () => false), 10_000, 50);
    },
    stop: async () => {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
