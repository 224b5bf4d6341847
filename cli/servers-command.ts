import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "./command.js";
import { printed, UsageError } from "./command.js";

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

/** Droid servers: register, list, remove. */
export const SERVER_COMMANDS: Command[] = [
  {
    name: "servers list",
    usage: "",
    summary: "List the servers: docker URL, engine, CPUs, memory, apps, containers, state.",
    positionals: [0, 0],
    run: async (ctx) => {
      const list = (await ctx.call("GET", "/servers")) as ServerJson[];
      if (ctx.json) ctx.out(JSON.stringify(list, null, 2));
      for (const s of ctx.json ? [] : list) {
        const facts = s.engine ? `docker ${s.engine.version}\t${s.engine.cpus} CPUs\t${gib(s.engine.memoryBytes)}` : "-\t-\t-";
        const state = s.state === "reachable" ? "reachable" : `unreachable: ${s.error ?? "unknown error"}`;
        ctx.out(`${s.name}\t${s.docker}\t${facts}\t${s.apps} apps\t${s.containers ?? "-"} containers\t${state}`);
      }
      return 0;
    },
  },
  {
    name: "servers add",
    usage: "<name> --docker tcp://HOST:2376 --tls-dir DIR [--label key=value]...",
    summary: "Register a Docker engine as a droid server, after connecting to it.",
    help: "--tls-dir holds ca.pem, cert.pem and key.pem (provision-droid.sh's client bundle); ssh://USER@HOST engines take none.",
    options: { docker: { type: "string" }, "tls-dir": { type: "string" }, label: { type: "string", multiple: true } },
    positionals: [1, 1],
    run: async (ctx) => {
      const docker = ctx.values.docker as string | undefined;
      if (!docker) throw new UsageError("--docker is required");
      const labels: Record<string, string> = {};
      for (const l of (ctx.values.label as string[] | undefined) ?? []) {
        const at = l.indexOf("=");
        if (at < 1) throw new UsageError(`--label expects key=value; got ${l}`);
        labels[l.slice(0, at)] = l.slice(at + 1);
      }
      const tlsDir = ctx.values["tls-dir"] as string | undefined;
      let tls: { ca: string; cert: string; key: string } | undefined;
      if (tlsDir) {
        try {
          const read = (f: string): string => readFileSync(join(tlsDir, f), "utf8");
          tls = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
        } catch (e) {
          ctx.out(`berth: --tls-dir ${tlsDir} must hold ca.pem, cert.pem and key.pem (provision-droid.sh's client bundle): ${(e as Error).message}`);
          return 2;
        }
      }
      const s = (await ctx.call("POST", "/servers", { name: ctx.args[0], docker, ...(tls ? { tls } : {}), labels })) as ServerJson;
      return printed(ctx, s, () => ctx.out(`added server ${s.name}: docker ${s.engine?.version ?? "?"}, ${s.engine?.cpus ?? "?"} CPUs, ${s.engine ? gib(s.engine.memoryBytes) : "?"}`));
    },
  },
  {
    name: "servers remove",
    usage: "<name>",
    summary: "Forget a server (refused while apps run or are placed there).",
    positionals: [1, 1],
    run: async (ctx) => {
      await ctx.call("DELETE", `/servers/${encodeURIComponent(ctx.args[0]!)}`);
      ctx.out(ctx.json ? JSON.stringify({ removed: ctx.args[0] }) : `removed server ${ctx.args[0]}`);
      return 0;
    },
  },
];
