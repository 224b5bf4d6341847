import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingressProbe, waitServed } from "../../releaser/served-probe.js";

// A stand-in for the front-door proxy: answers per Host header, as Caddy routes by hostname.
describe("ingressProbe (a real HTTP listener)", () => {
  const hosts: string[] = [];
  let server: http.Server;
  let port = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hosts.push(req.headers.host ?? "");
      res.writeHead(req.headers.host === "shop.berth.test" ? 200 : 502).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it("asks the proxy's published port for the app's hostname, as a user's request would", async () => {
    const probe = ingressProbe({ address: "127.0.0.1", tls: false, httpPort: port, httpsPort: 1 });
    expect(await probe("shop.berth.test", 1000)).toBe(200);
    expect(await probe("other.berth.test", 1000)).toBe(502);
    expect(hosts.slice(-2)).toEqual(["shop.berth.test", "other.berth.test"]);
  });

  it("sees nothing where nothing listens", async () => {
    expect(await ingressProbe({ address: "127.0.0.1", tls: false, httpPort: 1, httpsPort: 1 })("shop.berth.test", 500)).toBeUndefined();
  });

  it("waits for an answer below 500 and gives up at its deadline", async () => {
    const probe = ingressProbe({ address: "127.0.0.1", tls: false, httpPort: port, httpsPort: 1 });
    expect(await waitServed(probe, "shop.berth.test", 1000)).toBe(true);
    expect(await waitServed(probe, "other.berth.test", 200)).toBe(false);
  });
});
