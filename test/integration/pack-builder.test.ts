import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { PackBuilder } from "../../builder/pack-builder.js";
import { planPackBuild } from "../../builder/pack-plan.js";
import { UserError } from "../../core/errors.js";
import { removeApp } from "../support/docker-cleanup.js";
import { uniqueName } from "../support/services.js";

// The real pack cannot be installed here: a stand-in on PATH checks pack's arguments and builds with the local engine.
const STANDIN_DIR = fileURLToPath(new URL("../support/pack-standin", import.meta.url));

describe("pack driver (stand-in pack on PATH, real Docker engine)", () => {
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });
  const app = uniqueName("packed-");
  const work = mkdtempSync(join(tmpdir(), "berth-pack-"));
  const callLog = join(work, "calls.log");
  const source = join(work, "src");
  execFileSync("mkdir", ["-p", source]);
  writeFileSync(join(source, "index.html"), "from buildpacks\n");
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, PATH: `${STANDIN_DIR}:${process.env.PATH}`, PACK_STANDIN_LOG: callLog, ...extra });
  const plan = (sha: string, contextDir = source) =>
    planPackBuild({ app, sha, deploymentId: 5, contextDir, builder: "paketobuildpacks/builder-jammy-base", env: { BP_NODE_VERSION: "20", NODE_ENV: "production" } });

  afterAll(async () => {
    await removeApp(app);
    rmSync(work, { recursive: true, force: true });
  });

  it("runs pack build with the planned arguments, streams its output and leaves the labelled image", async () => {
    const p = plan("a".repeat(40));
    let log = "";
    await new PackBuilder(env()).build(p, (t) => (log += t));
    expect(log).toContain("===> DETECTING\n");
    expect(log).toContain(`Successfully built image '${p.image}'`);
    expect(readFileSync(callLog, "utf8")).toContain(
      `build ${p.image} --builder paketobuildpacks/builder-jammy-base --cache type=build;format=volume;name=berth-pack-cache-${app} env=BP_NODE_VERSION=20 NODE_ENV=production`,
    );
    const image = await docker.getImage(p.image).inspect();
    expect(image.Config.Labels).toMatchObject({ "berth.app": app, "berth.sha": "a".repeat(40), "berth.deployment": "5" });
  });

  it("fails as the user's error with pack's output when pack exits non-zero", async () => {
    const err = await new PackBuilder(env()).build(plan("b".repeat(40), join(work, "missing")), () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe("pack build failed (exit 2)");
    expect((err as UserError).detail).toContain(`pack stand-in: --path ${join(work, "missing")} is not a directory`);
  });

  it("says how to install pack when the builder host has none", async () => {
    const err = await new PackBuilder({ PATH: "/nonexistent" }).build(plan("c".repeat(40)), () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain("the `pack` CLI is not installed on the builder host");
    expect((err as UserError).message).toContain("https://buildpacks.io/docs/tools/pack/");
  });

  it("stops pack when the build is cancelled", async () => {
    const controller = new AbortController();
    let log = "";
    const started = performance.now();
    const build = new PackBuilder(env({ PACK_STANDIN_SLEEP: "31.5" })).build(plan("d".repeat(40)), (t) => (log += t), controller.signal);
    while (!log.includes("DETECTING")) await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error("superseded"));
    await expect(build).rejects.toThrow("superseded");
    expect(performance.now() - started).toBeLessThan(10_000);
    // Nothing pack started is left running either.
    expect(() => execFileSync("pgrep", ["-f", "^sleep 31.5$"])).toThrow();
  });
});
