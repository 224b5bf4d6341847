import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./services.js";

export interface BerthProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** A throwaway GitHub App private key. */
export function appPrivateKey(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

/**
 * Starts berth as scripts/run.sh and the Dockerfile do (`node --max-semi-space-size=2 dist/server/main.js` on the built tree,
 * no npm wrapper in between, so a SIGTERM reaches berth itself) and waits for /healthz (or for its log
 * to match options.ready).
 */
export async function startBerth(env: Record<string, string>, port: number, options: { ready?: RegExp } = {}): Promise<BerthProcess> {
  let out = "";
  // BERTH_TEST_NODE_ARGS: Node flags NODE_OPTIONS cannot carry, for profiling (e.g. --cpu-prof --cpu-prof-dir=DIR).
  const extra = process.env.BERTH_TEST_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, ["--max-semi-space-size=2", ...extra, "dist/server/main.js"], {
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  // BERTH_TEST_LOGS=DIR keeps each berth process's whole log there once it exits, passed test or failed.
  const keep = process.env.BERTH_TEST_LOGS;
  if (keep) {
    child.once("exit", () => {
      mkdirSync(keep, { recursive: true });
      writeFileSync(join(keep, `berth-${port}-${child.pid}.log`), out);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor("berth /healthz", async () => {
      if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode}:\n${out}`);
      // A process without the server role (a builder on another host) listens nowhere: its log says when it runs.
      if (options.ready) return options.ready.test(out);
      const r = await fetch(`${url}/healthz`);
      return r.status === 200;
    }, 60_000, 200);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\n--- berth output ---\n${out}`);
  }
  return {
    url,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      const signal = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-(child.pid ?? 0), sig); // berth and whatever it started (git, pack)
        } catch {
          /* already gone */
        }
      };
      signal("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) signal("SIGKILL");
    },
  };
}
