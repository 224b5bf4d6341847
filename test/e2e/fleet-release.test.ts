import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../support/docker-cleanup.js";
import { droidForSuite, startDroid } from "../support/droid.js";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { completedCheck } from "../support/harness-queries.js";
import { startPoller } from "../support/poller.js";
import { getVia, waitFor } from "../support/services.js";

const SERVER = "droid-eu";
const placed = (body: string, yaml: string) => ({ ...staticSite(body), "berth.yaml": yaml });
const PRODUCTION_ON_EU = "placement:\n  labels:\n    region: eu\npreviews:\n  placement:\n    server: droid-eu\n";

// berth on this host builds; a second dockerd in its own network namespace (TLS only, its container
// addresses blackholed here) is the droid the app lives on. Every request goes through the front door:
// the proxy on berth's host, which forwards the app's hostname to the droid's proxy.
describe("releasing to a remote droid behind the front door", () => {
  const droid = droidForSuite(() => startDroid());
  let h: Harness;
  const api = (path: string, init: RequestInit = {}) => fetch(`${h.berth.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" } });
  const onDroid = async (label: string) => (await droid().engine.listContainers({ filters: JSON.stringify({ label: [label] }) })).map((c) => c.Names[0]);
  const heldOnDroid = async (label: string) => {
    const filters = JSON.stringify({ label: [label] });
    const engine = droid().engine;
    const [containers, networks, volumes] = await Promise.all([engine.listContainers({ all: true, filters }), engine.listNetworks({ filters }), engine.listVolumes({ filters })]);
    return containers.length + networks.length + (volumes.Volumes?.length ?? 0);
  };
  const onLocal = async (label: string) => (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [label] }) })).map((c) => c.Names[0]);
  const served = async (host: string) => (await getVia(h.ingressPort, host).catch(() => undefined))?.body;
  const deploy = async (body: string, yaml = PRODUCTION_ON_EU) => {
    const before = h.repo.head;
    const sha = h.repo.commit(placed(body, yaml), body.trim());
    expect((await h.push(sha, before)).status).toBe(200);
    return { sha, check: await completedCheck(h, sha) };
  };

  beforeAll(async () => {
    h = await startHarness({ BERTH_RECONCILE_INTERVAL: "2" }, 15);
    const res = await api("/api/v1/servers", { method: "POST", body: JSON.stringify({ name: SERVER, docker: droid().dockerUrl, tls: droid().tls, labels: { region: "eu" } }) });
    expect(res.status, await res.clone().text()).toBe(201);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("places production on the droid its berth.yaml labels ask for, moves the image there and serves it through the front door", async () => {
    const started = Date.now();
    const { sha, check } = await deploy("served by the droid\n");
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    console.log(`push to success on a remote droid: ${Date.now() - started}ms`);
    expect(await served(h.host)).toBe("served by the droid\n");
    // The app's container runs on the droid only; the image was built here and moved there.
    expect(await onDroid(`berth.app=${h.app}`)).toHaveLength(1);
    expect(await onLocal(`berth.app=${h.app}`)).toEqual([]);
    const listed = (await (await api("/api/v1/servers")).json()) as { name: string; state: string; apps: number }[];
    expect(listed.find((s) => s.name === SERVER)).toMatchObject({ state: "reachable", apps: 1 });
    // The server keeps its environments: removing it is refused while one lives there.
    expect((await api(`/api/v1/servers/${SERVER}`, { method: "DELETE" })).status).toBe(409);
    expect(h.github.checkRunsFor(sha).length).toBeGreaterThan(0);
  });

  it("redeploys on the droid under load through the front door without a failed request", async () => {
    const poller = startPoller(h.ingressPort, h.host);
    const { check } = await deploy("second release on the droid\n");
    expect(check.conclusion).toBe("success");
    await waitFor("the new release served", async () => (await served(h.host)) === "second release on the droid\n");
    const stats = await poller.stop();
    expect(stats.failures, stats.errors.join("\n")).toBe(0);
    expect(stats.ok).toBeGreaterThan(10);
  });

  it("opens a preview on the droid previews.placement names, and removes it there when the pull request closes", async () => {
    const sha = h.repo.commitToPull(7, placed("preview on the droid\n", PRODUCTION_ON_EU));
    expect((await h.pull({ action: "opened", number: 7, head: sha })).status).toBe(200);
    expect((await completedCheck(h, sha)).conclusion).toBe("success");
    const previewHost = `${h.app}-pr-7.localhost`;
    expect(await served(previewHost)).toBe("preview on the droid\n");
    expect(await onDroid(`berth.environment=pr-7`)).toHaveLength(1);

    expect((await h.pull({ action: "closed", number: 7, head: sha })).status).toBe(200);
    // Gone in full: containers, then its network and volumes. The next test stops the droid's engine, and
    // Debian's dockerd 20.10.24 stopped in the middle of a network removal panics at its next start (moby#45057).
    await waitFor("preview gone from the droid", async () => (await heldOnDroid(`berth.environment=pr-7`)) === 0, 60_000);
    await waitFor("front door no longer routes the preview", async () => (await getVia(h.ingressPort, previewHost)).status === 404, 30_000);
    expect(await served(h.host)).toBe("second release on the droid\n");
  });

  it("fails a release to a droid whose engine is down within seconds, naming it, and converges once it is back", async () => {
    await droid().stopEngine();
    const started = Date.now();
    const { check } = await deploy("never released\n");
    const took = Date.now() - started;
    console.log(`push to failure on a dead droid: ${took}ms`);
    expect(check.conclusion).toBe("failure");
    expect(`${check.output?.title} ${check.output?.summary}`).toContain(`Server ${SERVER} cannot be reached`);
    expect(took).toBeLessThan(60_000);
    const listed = (await (await api("/api/v1/servers")).json()) as { name: string; state: string; error: string }[];
    expect(listed.find((s) => s.name === SERVER)).toMatchObject({ state: "unreachable" });

    await droid().startEngine();
    // Its containers come back by their restart policy; the reconciler re-applies its proxy's routes.
    await waitFor("the droid serves again", async () => (await served(h.host)) === "second release on the droid\n", 60_000, 250);
    const { check: after } = await deploy("released after the droid came back\n");
    expect(after.conclusion, JSON.stringify(after.output)).toBe("success");
    expect(await served(h.host)).toBe("released after the droid came back\n");
  });

  it("moves production back to local with the usual switch: no failed request, nothing left on the droid", async () => {
    const cli = await execa("node", ["dist/cli/berth.js", "move", h.app, "nowhere"], { reject: false, env: { BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: ADMIN_TOKEN } });
    expect([cli.exitCode, cli.stdout]).toEqual([1, "berth: No server named nowhere; GET /api/v1/servers lists them."]);
    expect((await api(`/api/v1/apps/${h.app}/move`, { method: "POST", body: JSON.stringify({ server: SERVER }) })).status).toBe(409);
    const poller = startPoller(h.ingressPort, h.host);
    const res = await api(`/api/v1/apps/${h.app}/move`, { method: "POST", body: JSON.stringify({ server: "local" }) });
    expect(res.status, await res.clone().text()).toBe(202);
    const { deployment } = (await res.json()) as { deployment: { id: number } };
    await waitFor("the app runs on local only", async () => (await onLocal(`berth.app=${h.app}`)).length === 1 && (await onDroid(`berth.app=${h.app}`)).length === 0, 90_000, 250);
    const stats = await poller.stop();
    expect(stats.failures, stats.errors.join("\n")).toBe(0);
    expect(stats.bodies).toEqual(new Set(["released after the droid came back\n"]));
    const rows = (await (await api(`/api/v1/apps/${h.app}/deployments`)).json()) as { id: number; state: string }[];
    expect(rows.find((r) => r.id === deployment.id)?.state).toBe("live");
    // The droid holds nothing of the app any more, so it can be removed.
    await waitFor("droid removable", async () => (await api(`/api/v1/servers/${SERVER}`, { method: "DELETE" })).status === 204, 30_000, 500);
    expect(await served(h.host)).toBe("released after the droid came back\n");
  });
});
