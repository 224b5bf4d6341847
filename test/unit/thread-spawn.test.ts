import { describe, expect, it } from "vitest";
import { spawnOffThread } from "../../core/thread-spawn.js";

const env = { PATH: process.env.PATH };

describe("spawnOffThread", () => {
  it("runs a command and gives back its exit code and output", async () => {
    const r = await spawnOffThread("sh", ["-c", 'echo "$1"; echo oops >&2; exit 3', "sh", "hello; $(not run)"], { env }).done;
    expect(r).toEqual({ exitCode: 3, signal: null, stdout: "hello; $(not run)\n", stderr: "oops\n" });
  });

  it("keeps only the first bytes of a large output", async () => {
    const r = await spawnOffThread("sh", ["-c", "yes | head -c 100000"], { env, maxOutput: 1000 }).done;
    expect([r.exitCode, r.stdout.length]).toEqual([0, 1000]);
  });

  it("rejects a command that does not exist", async () => {
    const child = spawnOffThread("/nonexistent/berth-tool", [], { env });
    await expect(child.done).rejects.toThrow(/ENOENT/);
  });

  it("gives the pid of a detached group, which a kill ends whole", async () => {
    const child = spawnOffThread("sh", ["-c", "sleep 30 & sleep 30; wait"], { env, detached: true });
    const pid = await child.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(-(pid as number), "SIGKILL");
    const r = await child.done;
    expect(r.signal).toBe("SIGKILL");
  });

  it("runs several at once", async () => {
    const all = await Promise.all([1, 2, 3, 4].map((n) => spawnOffThread("sh", ["-c", `sleep 0.2; echo ${n}`], { env }).done));
    expect(all.map((r) => r.stdout.trim())).toEqual(["1", "2", "3", "4"]);
  });
});
