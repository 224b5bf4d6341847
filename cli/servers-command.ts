import { readFileSync } from "node:fs";
import { join } from "node:path";

/** An API call as the CLI makes it: the parsed JSON answer, or an Error with the API's message. */
export type ApiCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

export const SERVERS_USAGE = `  berth servers add <name> --docker tcp://HOST:2376 --tls-dir DIR [--label key=value]...   (DIR holds ca.pem, cert.pem, key.pem)
  berth servers add <name> --docker ssh://USER@HOST [--label key=value]...
  berth servers list
  berth servers remove <name>`;

interface ServerJson {
  name: string;
  docker: string;
  state: string;
  error: string | null;
  engine: { version: string; cpus: number; memoryBytes: number } | null;
  containers: number | null;
  apps: number;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** `berth servers …`: returns the exit code, or undefined when the arguments match no form (the caller prints usage). */
export async function serversCommand(args: string[], call: ApiCall, out: (s: string) => void): Promise<number | undefined> {
  const [sub, name, ...rest] = args;
  if (sub === "list" && name === undefined) {
    for (const s of (await call("GET", "/servers")) as ServerJson[]) {
      const facts = s.engine ? `docker ${s.engine.version}\t${s.engine.cpus} CPUs\t${gib(s.engine.memoryBytes)}` : "-\t-\t-";
      const state = s.state === "reachable" ? "reachable" : `unreachable: ${s.error ?? "unknown error"}`;
      out(`${s.name}\t${s.docker}\t${facts}\t${s.apps} apps\t${s.containers ?? "-"} containers\t${state}`);
    }
    return 0;
  }
  if ((sub === "remove" || sub === "rm") && name && rest.length === 0) {
    await call("DELETE", `/servers/${encodeURIComponent(name)}`);
    out(`removed server ${name}`);
    return 0;
  }
  if (sub !== "add" || !name) return undefined;
  let docker: string | undefined;
  let tlsDir: string | undefined;
  const labels: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (value === undefined) return undefined;
    if (flag === "--docker") docker = value;
    else if (flag === "--tls-dir") tlsDir = value;
    else if (flag === "--label" && value.includes("=")) labels[value.slice(0, value.indexOf("="))] = value.slice(value.indexOf("=") + 1);
    else return undefined;
  }
  if (!docker) return undefined;
  let tls: { ca: string; cert: string; key: string } | undefined;
  if (tlsDir) {
    try {
      const read = (f: string): string => readFileSync(join(tlsDir, f), "utf8");
      tls = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
    } catch (e) {
      out(`berth: --tls-dir ${tlsDir} must hold ca.pem, cert.pem and key.pem (provision-droid.sh's client bundle): ${(e as Error).message}`);
      return 2;
    }
  }
  const s = (await call("POST", "/servers", { name, docker, ...(tls ? { tls } : {}), labels })) as ServerJson;
  out(`added server ${s.name}: docker ${s.engine?.version ?? "?"}, ${s.engine?.cpus ?? "?"} CPUs, ${s.engine ? gib(s.engine.memoryBytes) : "?"}`);
  return 0;
}
