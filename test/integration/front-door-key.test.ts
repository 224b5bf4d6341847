import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sensitive } from "../../core/sensitive.js";
import { planIngress, protectRoutes, renderCaddyfile } from "../../releaser/ingress-plan.js";
import { freePort, getAt, waitFor } from "../support/services.js";

const ask = (port: number, host: string, headers: Record<string, string> = {}, path = "/") => getAt("127.0.0.1", port, host, path, headers);

const KEY = "5e".repeat(32);


/**
 * A droid's proxy config run by the real Caddy (Debian's, which the proxy stand-in is made from) in
 * front of an app that echoes the header: a protected hostname answers only requests carrying the
 * front door's key, and no app sees the key, on path routes too and on public hostnames.
 */
describe("a droid's proxy and the front door's key", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-front-door-key-"));
  let app: Server;
  let caddy: ResultPromise | undefined;
  let port = 0;
  let logged = "";

  beforeAll(async () => {
    app = createServer((req, res) => {
      res.end(`app=${req.url} front=${req.headers["x-berth-front-door"] ?? ""}`);
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const upstream = `127.0.0.1:${(app.address() as { port: number }).port}`;
    const routes = protectRoutes(
      [
        { hostname: "shop-pr-1.localhost", upstream, paths: [{ path: "/static/*", upstreams: [upstream] }] },
        { hostname: "shop.localhost", upstream },
        { hostname: "gone.localhost", upstream: "127.0.0.1:1" },
      ],
      new Set(["shop-pr-1.localhost"]),
    );
    port = await freePort();
    // As rendered for a droid, on a port of its own and without the admin endpoint another Caddy may hold.
    const file = join(dir, "Caddyfile");
    const text = renderCaddyfile({ ...planIngress(routes, false, true), frontDoorKey: new Sensitive(KEY) });
    writeFileSync(file, text.replace("admin localhost:2019", `admin off\n\thttp_port ${port}`));
    caddy = execa("caddy", ["run", "--config", file, "--adapter", "caddyfile"], { reject: false, env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
    caddy.stderr?.on("data", (d: Buffer) => (logged += d.toString()));
    await waitFor("caddy to answer", async () => (await ask(port, "shop.localhost").catch(() => undefined))?.status === 200, 20_000, 100);
  });
  afterAll(async () => {
    caddy?.kill("SIGTERM");
    await caddy;
    await new Promise((r) => app?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a protected hostname without the key, whatever else the request carries", async () => {
    for (const headers of [{}, { "x-berth-front-door": "5e".repeat(31) }, { "x-berth-front-door": KEY.toUpperCase() }, { "x-berth-preview-token": "bpt_x", authorization: "Basic YmVydGg6eA==" }] as Record<string, string>[]) {
      for (const path of ["/", "/static/a.css"]) {
        const r = await ask(port, "shop-pr-1.localhost", headers, path);
        expect([r.status, r.body]).toEqual([403, "This app needs a login: open it at its address through berth's front door."]);
      }
    }
  });

  it("serves it with the key, which the app never sees, on every route of the site", async () => {
    expect(await ask(port, "shop-pr-1.localhost", { "x-berth-front-door": KEY })).toEqual({ status: 200, body: "app=/ front=" });
    expect(await ask(port, "shop-pr-1.localhost", { "x-berth-front-door": KEY }, "/static/a.css")).toEqual({ status: 200, body: "app=/static/a.css front=" });
  });

  it("serves a public hostname to anyone, and removes the header there too", async () => {
    expect(await ask(port, "shop.localhost")).toEqual({ status: 200, body: "app=/ front=" });
    expect(await ask(port, "shop.localhost", { "x-berth-front-door": KEY })).toEqual({ status: 200, body: "app=/ front=" });
  });

  it("keeps the key and the machine token out of Caddy's own log when the app is down", async () => {
    // The proxy tries the upstream for 5 s (lb_try_duration) before its 502.
    const r = await getAt("127.0.0.1", port, "gone.localhost", "/", { "x-berth-front-door": KEY, "x-berth-preview-token": "bpt_secret_in_header" }, 15_000);
    expect(r.status).toBe(502);
    await waitFor("the 502 in Caddy's log", () => logged.includes("gone.localhost"), 10_000, 100);
    expect(logged).not.toContain(KEY);
    expect(logged).not.toContain("bpt_secret_in_header");
  }, 30_000);
});
