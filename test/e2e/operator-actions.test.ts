import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";

/** An operator redeploys and cancels through the API and the built `berth` CLI, against the running server. */
describe("operator actions: redeploy and cancel", () => {
  let h: Harness;
  type Row = { id: number; sha: string; state: string };
  const list = async () => (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Row[];
  const berth = (...args: string[]) =>
    execFileSync("node", ["dist/cli/berth.js", ...args], { encoding: "utf8", env: { ...process.env, BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: ADMIN_TOKEN } });
  const post = (path: string, body?: unknown) =>
    fetch(`${h.berth.url}/api/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const served = (body: string) => waitFor(`${body.trim()} served`, async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 120_000, 50);

  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it("redeploys the commit production runs from the CLI, as a new deployment with its own check run", async () => {
    const sha = h.repo.commit(staticSite("redeploy me\n"), "v1");
    await h.push(sha, "0".repeat(40));
    await served("redeploy me\n");
    const first = await waitFor("first live", async () => (await list()).find((d) => d.sha === sha && d.state === "live"));
    const said = berth("redeploy", h.app);
    const id = Number(/as deployment (\d+)/.exec(said)?.[1]);
    expect(id).toBeGreaterThan(first.id);
    await waitFor("redeploy live", async () => (await list()).find((d) => d.id === id)?.state === "live", 120_000);
    await waitFor("two successful check runs on the commit", () => h.github.checkRunsFor(sha).filter((c) => c.conclusion === "success").length === 2, 30_000);
    await waitFor("the first drained", async () => (await list()).find((d) => d.id === first.id)?.state !== "live", 15_000); // BERTH_DRAIN_SECONDS=1
  });

  it("cancels a running build from the CLI: its check run says cancelled and production keeps serving", async () => {
    const before = h.repo.head;
    const site = staticSite("never released\n");
    const sha = h.repo.commit({ ...site, Dockerfile: site.Dockerfile!.replace("\nCOPY", `\nRUN echo ${Date.now()} && sleep 30\nCOPY`) }, "slow");
    await h.push(sha, before);
    const d = await waitFor("build running", async () => (await list()).find((x) => x.sha === sha && x.state === "building"), 60_000);
    expect(berth("cancel", String(d.id))).toContain(`cancelled deployment ${d.id}`);
    const check = await waitFor("check run cancelled", () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 30_000, 100);
    expect(check.conclusion).toBe("cancelled");
    expect(check.output?.summary).toContain("Cancelled by an operator (API)");
    expect((await getVia(h.ingressPort, h.host)).body).toBe("redeploy me\n");
    expect((await post(`/deployments/${d.id}/cancel`)).status).toBe(409); // only once
  });

  it("refuses what cannot be redeployed or cancelled, saying why", async () => {
    expect((await post(`/apps/${h.app}/deployments`, { environment: "pr-99" })).status).toBe(404);
    expect((await post(`/apps/${h.app}/deployments`, { sha: "HEAD" })).status).toBe(400);
    expect((await post(`/apps/${h.app}/deployments`, { environment: 7 })).status).toBe(400);
    expect((await post(`/apps/nope/deployments`)).status).toBe(404);
    const live = (await list()).find((d) => d.state === "live")!;
    const res = await post(`/deployments/${live.id}/cancel`);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toContain("only a queued, waiting or building deployment can be cancelled");
    expect((await post(`/deployments/99999999/cancel`)).status).toBe(404);
    expect((await fetch(`${h.berth.url}/api/v1/deployments/1/cancel`, { method: "POST" })).status).toBe(401);
  });

  it("logs in with a token from stdin, then answers --json and open from the saved credentials alone", async () => {
    const home = mkdtempSync(join(tmpdir(), "berth-cli-home-"));
    const env = { PATH: process.env.PATH ?? "", HOME: home };
    const refused = spawnSync("node", ["dist/cli/berth.js", "login", "--url", h.berth.url], { encoding: "utf8", env, input: "wrong-token\n" });
    expect([refused.status, refused.stdout.trim()]).toEqual([1, `berth: ${h.berth.url} refused the token (HTTP 401)`]);
    const login = spawnSync("node", ["dist/cli/berth.js", "login", "--url", h.berth.url], { encoding: "utf8", env, input: `${ADMIN_TOKEN}\n` });
    expect(login.status, login.stdout).toBe(0);
    const file = join(home, ".config", "berth", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const apps = spawnSync("node", ["dist/cli/berth.js", "apps", "--json"], { encoding: "utf8", env });
    expect(apps.status, apps.stdout).toBe(0);
    expect((JSON.parse(apps.stdout) as { name: string }[]).map((a) => a.name)).toContain(h.app);
    const open = spawnSync("node", ["dist/cli/berth.js", "open", h.app], { encoding: "utf8", env });
    expect([open.status, open.stdout.trim()]).toEqual([0, `http://${h.host}:${h.ingressPort}`]);
    rmSync(home, { recursive: true, force: true });
  });
});
