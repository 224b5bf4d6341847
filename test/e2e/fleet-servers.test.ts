import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { droidForSuite, startDroid } from "../support/droid.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";

// Servers through the running berth (node dist/server/main.js) and the built CLI, as an operator
// registers a droid provisioned by scripts/provision-droid.sh.
describe("droid servers through berth and its CLI", () => {
  const droid = droidForSuite(() => startDroid({ images: [] }));
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({}, 4);
  });
  afterAll(async () => {
    await h?.stop();
  });

  const berth = (...argv: string[]) =>
    execa("node", ["dist/cli/berth.js", ...argv], { reject: false, env: { BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: ADMIN_TOKEN } });

  it("adds the droid with its client bundle, lists it beside local, and removes it", async () => {
    const added = await berth("servers", "add", "droid-e2e", "--docker", droid().dockerUrl, "--tls-dir", droid().tlsDir, "--label", "region=eu");
    expect(added.stdout).toMatch(/^added server droid-e2e: docker \S+, \d+ CPUs, [\d.]+ GiB$/);
    expect(added.exitCode).toBe(0);

    const listed = await berth("servers", "list");
    expect(listed.exitCode).toBe(0);
    const rows = listed.stdout.split("\n").map((l) => l.split("\t"));
    expect(rows.map((r) => [r[0], r[1], r.at(-1)])).toEqual([
      ["local", "unix:///var/run/docker.sock", "reachable"],
      ["droid-e2e", droid().dockerUrl, "reachable"],
    ]);
    const api = await fetch(`${h.berth.url}/api/v1/servers`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(((await api.json()) as { name: string; labels: object }[])[1]).toMatchObject({ name: "droid-e2e", labels: { region: "eu" } });

    const again = await berth("servers", "add", "droid-e2e", "--docker", droid().dockerUrl, "--tls-dir", droid().tlsDir);
    expect([again.exitCode, again.stdout]).toEqual([1, "berth: A server named droid-e2e is registered already; DELETE /api/v1/servers/droid-e2e first to replace it."]);
    expect((await berth("servers", "remove", "droid-e2e")).stdout).toBe("removed server droid-e2e");
    expect((await berth("servers", "list")).stdout.split("\n")).toHaveLength(1);
  });
});
