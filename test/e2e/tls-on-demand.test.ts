import { execFileSync } from "node:child_process";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDns, type TestDns } from "../support/dnsmasq.js";
import { staticSite } from "../support/git-repo.js";
import type { ClientOptions } from "ws";
import { execOnce, execUrl } from "../support/exec-client.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { completedCheck } from "../support/harness-queries.js";
import { freePort, waitFor } from "../support/services.js";

/** One HTTPS GET to the ingress on 127.0.0.1 with this SNI and Host: status, body and the certificate's issuer; or the TLS error. */
function httpsGet(port: number, host: string, path = "/"): Promise<{ status: number; body: string; issuer: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: host, rejectUnauthorized: false, timeout: 5000 }, () => {
      const issuer = String(socket.getPeerCertificate().issuer?.CN ?? "");
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      let raw = "";
      socket.on("data", (d: Buffer) => (raw += d.toString()));
      socket.on("end", () => {
        const [head = "", ...rest] = raw.split("\r\n\r\n");
        const body = rest.join("\r\n\r\n");
        const chunked = /transfer-encoding: chunked/i.test(head);
        resolve({ status: Number(head.split(" ")[1]), body: chunked ? body.replace(/^[0-9a-f]+\r\n/i, "").replace(/\r\n0\r\n\r\n$/, "") : body, issuer });
      });
    });
    socket.on("error", (e) => resolve({ error: e.message }));
    socket.on("timeout", () => socket.destroy(new Error("timeout")));
  });
}

// BERTH_TLS=internal: Caddy's own CA, certificates obtained on demand at the first handshake, and only
// for hostnames berth's ask endpoint (on the waker's listener) says it serves.
describe("HTTPS on demand through the proxy", () => {
  let h: Harness;
  let dns: TestDns;
  let httpsPort: number;
  const self = "berth-self.localhost";

  beforeAll(async () => {
    httpsPort = await freePort();
    dns = await startDns({ "shop.tls.test": "127.0.0.1" });
    h = await startHarness(
      { BERTH_TLS: "internal", BERTH_INGRESS_HTTPS_PORT: String(httpsPort), BERTH_PUBLIC_URL: `https://${self}:${httpsPort}`, BERTH_DNS_SERVER: dns.server, BERTH_INGRESS_ADDRESSES: "127.0.0.1" },
      15,
    );
  });
  afterAll(async () => {
    await h?.stop();
    await dns?.stop();
  });

  it("serves an app host and a verified custom domain by SNI, and gives no certificate to a hostname berth does not serve", async () => {
    const sha = h.repo.commit({ ...staticSite("over https\n"), "berth.yaml": "domains: [shop.tls.test]\n" }, "https");
    expect((await h.push(sha, h.repo.head)).status).toBe(200);
    const check = await completedCheck(h, sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect(check.output?.title).toBe(`Live at https://${h.host}:${httpsPort}`);
    const app = await waitFor("app over https", async () => {
      const r = await httpsGet(httpsPort, h.host);
      return "status" in r && r.status === 200 ? r : undefined;
    }, 30_000, 200);
    expect(app).toMatchObject({ status: 200, body: "over https\n", issuer: expect.stringContaining("Caddy Local Authority") });
    expect(await httpsGet(httpsPort, "shop.tls.test")).toMatchObject({ status: 200, body: "over https\n" });
    expect(await httpsGet(httpsPort, "nobody-here.localhost")).toHaveProperty("error");
    // What Caddy asks before each certificate, on the waker's listener (the proxy network's gateway).
    const waker = /"address":"([\d.]+)","port":(\d+),"msg":"waker listening/.exec(h.berth.output());
    expect(waker).not.toBeNull();
    const ask = async (domain: string) => (await fetch(`http://${waker![1]}:${waker![2]}/.berth/tls-ask?domain=${domain}`)).status;
    expect([await ask(h.host), await ask("shop.tls.test"), await ask(self), await ask("nobody-here.localhost"), await ask("evil.example")]).toEqual([200, 200, 200, 404, 404]);
    expect(h.berth.output()).toContain("refused a certificate for a hostname berth does not serve");
    const caddyfile = execFileSync("docker", ["exec", h.proxy, "cat", "/etc/caddy/Caddyfile"], { encoding: "utf8" });
    expect(caddyfile).toContain(`ask http://${waker![1]}:${waker![2]}/.berth/tls-ask`);
    expect(caddyfile).toContain("tls internal {\n\t\ton_demand\n\t}");
    // Under an app's hostname the path is the app's, never the ask.
    const spoof = await httpsGet(httpsPort, h.host, "/.berth/tls-ask?domain=evil.example");
    expect(spoof).toMatchObject({ status: 404 });
  });

  it("serves berth itself at the host of BERTH_PUBLIC_URL through the same proxy", async () => {
    const r = await httpsGet(httpsPort, self, "/healthz");
    expect(r).toMatchObject({ status: 200 });
    expect("body" in r ? r.body : "").toContain('"postgres"');
    // WebSockets too: the exec terminal, upgraded through the proxy and the waker's listener.
    const url = execUrl(`https://127.0.0.1:${httpsPort}`, h.app, { environment: "production", tty: "false", cmd: ["echo", "via-the-proxy"] });
    const ran = await execOnce(url, { authorization: `Bearer ${ADMIN_TOKEN}`, host: `${self}:${httpsPort}` }, "", 30_000, { servername: self, rejectUnauthorized: false } as ClientOptions);
    expect([ran.status, ran.stdout.trim(), ran.code]).toEqual([101, "via-the-proxy", 0]);
  });
});
