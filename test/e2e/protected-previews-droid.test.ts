import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { droidForSuite, startDroid } from "../support/droid.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { completedCheck } from "../support/harness-queries.js";
import { getAt, getVia, waitFor } from "../support/services.js";
import { Browser } from "../support/login-browser.js";

const SERVER = "droid-eu";

// A protected preview that lives on a droid is checked on the front door (the proxy on berth's host),
// which forwards only checked requests, without berth's credentials, to the droid's proxy: the droid's
// own proxy has no forward_auth and never needs a route to berth: it answers a protected hostname only
// to requests with the key the front door adds (and it removes), so going round the front door gets nothing.
describe("a protected preview on a droid behind the front door", () => {
  const droid = droidForSuite(() => startDroid());
  let h: Harness;
  const api = (path: string, init: RequestInit = {}) => fetch(`${h.berth.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" } });

  beforeAll(async () => {
    h = await startHarness({ BERTH_RECONCILE_INTERVAL: "2" }, 5);
    const res = await api("/api/v1/servers", { method: "POST", body: JSON.stringify({ name: SERVER, docker: droid().dockerUrl, tls: droid().tls, labels: { region: "eu" } }) });
    expect(res.status, await res.clone().text()).toBe(201);
    h.repo.commit({ "index.html": "base\n" }, "base");
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("refuses an anonymous request at the front door and serves the machine token", async () => {
    const files = {
      Dockerfile: 'FROM berth-standin/busybox:latest\nCOPY www /www\nRUN chmod +x /www/cgi-bin/echo.cgi\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n',
      "www/index.html": "protected on the droid\n",
      "www/cgi-bin/echo.cgi": '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\necho "token=$HTTP_X_BERTH_PREVIEW_TOKEN"\necho "front=$HTTP_X_BERTH_FRONT_DOOR"\n',
      // A public repository whose berth.yaml asks for protection.
      "berth.yaml": "previews:\n  placement: { server: droid-eu }\n  access: github\n",
    };
    const sha = h.repo.commitToPull(9, files);
    expect((await h.pull({ action: "opened", number: 9, head: sha })).status).toBe(200);
    expect((await completedCheck(h, sha)).conclusion).toBe("success");
    const host = `${h.app}-pr-9.localhost`;
    const url = (path = "/") => `http://${host}:${h.ingressPort}${path}`;
    const anonymous = await waitFor("front door asks for a login", async () => {
      const r = await new Browser(h.ingressPort).request(url(), { accept: "*/*" }).catch(() => undefined);
      return r?.status === 401 ? r : undefined;
    }, 60_000, 200);
    expect(anonymous.body).not.toContain("protected on the droid");
    expect((await getVia(h.ingressPort, host)).status).toBe(401);
    const token = String(((await (await api(`/api/v1/apps/${h.app}/environments/pr-9/access-token`)).json()) as { token: string }).token);
    const ok = await new Browser(h.ingressPort).request(url("/cgi-bin/echo.cgi"), { "x-berth-preview-token": token, accept: "*/*" });
    // The app sees neither the machine token nor the key the front door showed the droid's proxy.
    expect(ok).toMatchObject({ status: 200, body: "token=\nfront=\n" });

    // Straight at the droid's proxy (DNS pointing at the droid, or its address found): nothing of the
    // app, with the machine token or a made-up key either; its key is the front door's only.
    for (const headers of [{}, { "x-berth-preview-token": token }, { "x-berth-front-door": "0".repeat(64) }] as Record<string, string>[]) {
      for (const path of ["/", "/cgi-bin/echo.cgi"]) {
        const direct = await getAt(droid().address, h.ingressPort, host, path, headers);
        expect([direct.status, direct.body]).toEqual([403, "This app needs a login: open it at its address through berth's front door."]);
      }
    }
    // The droid's own proxy routes the preview without asking berth.
    const proxies = await droid().engine.listContainers({ filters: JSON.stringify({ label: ["berth.role=proxy"] }) });
    expect(proxies.length).toBe(1);
    const exec = await droid().engine.getContainer(proxies[0]!.Id).exec({ Cmd: ["cat", "/etc/caddy/Caddyfile"], AttachStdout: true });
    const out: Buffer[] = [];
    const stream = await exec.start({});
    await new Promise((resolve) => {
      stream.on("data", (c: Buffer) => out.push(c));
      stream.on("end", resolve);
    });
    const caddyfile = Buffer.concat(out).toString("utf8");
    expect(caddyfile).toContain(host);
    expect(caddyfile).not.toContain("forward_auth");
    expect(caddyfile).toContain("@berth_outside not header X-Berth-Front-Door");
  }, 240_000);
});
