import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDns, type TestDns } from "../support/dnsmasq.js";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { completedCheck } from "../support/harness-queries.js";
import { getVia, waitFor } from "../support/services.js";

const YAML = "domains:\n  - shop.test\n  - { name: www.shop.test, redirect_to: shop.test }\n";

/** One request through the ingress, without following redirects: status and Location. */
const head = (port: number, host: string) =>
  new Promise<{ status: number; location?: string }>((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/some/page?x=1", headers: { host }, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    }).on("error", reject);
  });

// DNS is dnsmasq on loopback (BERTH_DNS_SERVER); berth's ingress address is 127.0.0.1 (BERTH_INGRESS_ADDRESSES).
describe("custom domains, routed once their DNS points at berth", () => {
  let h: Harness;
  let dns: TestDns;
  const api = async (path: string) => (await fetch(`${h.berth.url}/api/v1/apps/${h.app}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();

  beforeAll(async () => {
    dns = await startDns({ "shop.test": "10.9.9.9", "www.shop.test": "127.0.0.1" });
    h = await startHarness({ BERTH_DNS_SERVER: dns.server, BERTH_INGRESS_ADDRESSES: "127.0.0.1", BERTH_RECONCILE_INTERVAL: "1" }, 15);
  });
  afterAll(async () => {
    await h?.stop();
    await dns?.stop();
  });

  it("leaves a domain whose DNS points elsewhere unrouted, says which record to add, and routes it within a pass of the fix", async () => {
    const sha = h.repo.commit({ ...staticSite("the shop\n"), "berth.yaml": YAML }, "domains");
    expect((await h.push(sha, h.repo.head)).status).toBe(200);
    const check = await completedCheck(h, sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    const record = `Add a CNAME record shop.test → ${h.app}.localhost (or, for an apex domain, A/AAAA records to 127.0.0.1)`;
    expect(check.output?.summary).toContain(`shop.test: not routed yet: shop.test does not point at berth yet: it points at 10.9.9.9. ${record}.`);
    expect(check.output?.summary).toContain("www.shop.test: redirects to shop.test");
    expect((await getVia(h.ingressPort, "shop.test")).status).toBe(404);
    expect(await head(h.ingressPort, "www.shop.test")).toEqual({ status: 308, location: "http://shop.test/some/page?x=1" });
    expect(await api("/domains")).toMatchObject([
      { name: "shop.test", state: "pending", source: "manifest", problem: expect.stringContaining(record) },
      { name: "www.shop.test", state: "routed", redirectTo: "shop.test", problem: null },
    ]);

    const fixed = Date.now();
    await dns.set({ "shop.test": "127.0.0.1", "www.shop.test": "127.0.0.1" });
    await waitFor("shop.test served", async () => (await getVia(h.ingressPort, "shop.test").catch(() => undefined))?.body === "the shop\n", 30_000, 100);
    console.log(`DNS fix to the domain serving: ${Date.now() - fixed}ms (BERTH_RECONCILE_INTERVAL=1)`);
    expect(await api("/domains")).toMatchObject([{ name: "shop.test", state: "routed", problem: null }, { name: "www.shop.test" }]);

    // DNS pointing away again stops the routing on a later pass.
    await dns.set({ "shop.test": "10.9.9.9", "www.shop.test": "127.0.0.1" });
    await waitFor("shop.test no longer routed", async () => (await getVia(h.ingressPort, "shop.test")).status === 404, 30_000, 100);
  });

  it("adds and removes a domain through the API, refusing a bad name", async () => {
    const post = (body: unknown) => fetch(`${h.berth.url}/api/v1/apps/${h.app}/domains`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post({ name: "*.evil.test" })).status).toBe(400);
    expect((await post({ name: "shop.test" })).status).toBe(409);
    expect((await post({ name: "api.shop.test" })).status).toBe(201);
    await dns.set({ "api.shop.test": "127.0.0.1", "shop.test": "10.9.9.9", "www.shop.test": "127.0.0.1" });
    await waitFor("api.shop.test served", async () => (await getVia(h.ingressPort, "api.shop.test").catch(() => undefined))?.body === "the shop\n", 30_000, 100);
    const del = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/domains/api.shop.test`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(del.status).toBe(204);
    await waitFor("api.shop.test no longer routed", async () => (await getVia(h.ingressPort, "api.shop.test")).status === 404, 30_000, 100);
  });

  it("never routes a hostname berth serves itself (another app's, a preview's, BERTH_DOMAIN's) as a custom domain", async () => {
    const domain = h.host.split(".").slice(1).join(".");
    const victim = `victim-pr-3.${domain}`;
    await dns.set({ [victim]: "127.0.0.1", "shop.test": "10.9.9.9", "www.shop.test": "127.0.0.1" });
    const post = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/domains`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ name: victim }) });
    expect(post.status).toBe(201);
    const listed = async () => ((await api("/domains")) as { name: string; state: string; problem: string | null }[]).find((d) => d.name === victim);
    await waitFor("the claim checked", async () => (await listed())?.problem?.includes("berth serves itself") === true, 30_000, 200);
    expect((await listed())?.state).toBe("pending");
    expect((await getVia(h.ingressPort, victim)).status).toBe(404);
    await fetch(`${h.berth.url}/api/v1/apps/${h.app}/domains/${victim}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  });

  it("refuses hostile domains and placements in berth.yaml with the reason, and production keeps serving", async () => {
    const yaml = "domains: ['*.evil.test', '../../etc', { name: a.test, redirect_to: 'evil.test/x' }]\nplacement: { server: '../etc', labels: { 'a b': c } }\n";
    const sha = h.repo.commit({ ...staticSite("never served\n"), "berth.yaml": yaml }, "hostile");
    expect((await h.push(sha, h.repo.head)).status).toBe(200);
    const check = await completedCheck(h, sha);
    expect(check.conclusion).toBe("failure");
    const said = `${check.output?.summary}\n${check.output?.text ?? ""}`;
    for (const part of ["domains[0]", "domains[1]", "redirect_to", "placement.server", "expected a domain name", "expected a server's name"]) expect(said).toContain(part);
    expect((await getVia(h.ingressPort, h.host)).body).toBe("the shop\n");
    expect((await api("/domains") as { name: string }[]).map((d) => d.name)).not.toContain("*.evil.test");
  });
});
