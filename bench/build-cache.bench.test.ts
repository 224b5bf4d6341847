import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, expect, it } from "vitest";
import { planDockerBuild } from "../builder/docker-build-plan.js";
import { DockerBuilder } from "../builder/docker-builder.js";
import { removeApp } from "../test/support/docker-cleanup.js";
import { uniqueName } from "../test/support/services.js";

/** Cold vs warm build of the same app: a dependency step (2 s) that a source-only change must not redo. */
const app = uniqueName("cache-");
const dir = mkdtempSync(join(tmpdir(), "berth-cache-"));
afterAll(async () => {
  await removeApp(app);
  rmSync(dir, { recursive: true, force: true });
});

it("measures cold and warm builds", async () => {
  const builder = new DockerBuilder(new Docker({ socketPath: "/var/run/docker.sock" }));
  const build = async (sha: string, source: string): Promise<number> => {
    writeFileSync(join(dir, "deps.txt"), `deps for ${app}\n`);
    writeFileSync(join(dir, "index.html"), source);
    writeFileSync(
      join(dir, "Dockerfile"),
      "FROM berth-standin/busybox:latest\nCOPY deps.txt /deps.txt\nRUN sleep 2 && cp /deps.txt /installed\nCOPY index.html /www/index.html\nEXPOSE 8080\n",
    );
    const plan = planDockerBuild({ app, environment: "production", sha, deploymentId: 1, contextDir: dir, entries: readdirSync(dir), dockerfile: "Dockerfile", buildArgs: {} });
    const start = performance.now();
    await builder.build(plan, () => undefined);
    return performance.now() - start;
  };
  const cold = await build("cold0000", "one\n");
  const warm = await build("warm0000", "two\n");
  console.log(`\ncold build ${(cold / 1000).toFixed(2)}s, warm build (source changed, dependencies not) ${(warm / 1000).toFixed(2)}s: warm/cold = ${(warm / cold).toFixed(2)}\n`);
  expect(warm).toBeLessThan(cold);
});
