import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientAddress, markProxied, perClientLimit } from "../../server/client-address.js";

const request = (remote: string, forwarded?: string) => ({ headers: forwarded ? { "x-forwarded-for": forwarded } : {}, socket: { remoteAddress: remote } }) as unknown as IncomingMessage;

describe("clientAddress", () => {
  it("believes X-Forwarded-For only from berth's own proxy, and only its last entry", () => {
    expect(clientAddress(request("203.0.113.9", "10.0.0.1"))).toBe("203.0.113.9");
    const proxied = request("172.18.0.2", "1.2.3.4, 198.51.100.7");
    markProxied(proxied);
    expect(clientAddress(proxied)).toBe("198.51.100.7");
  });
});

describe("perClientLimit", () => {
  it("bounds each client and all of them together within a minute", () => {
    const allow = perClientLimit(2, 3);
    expect([allow("a"), allow("a"), allow("a")]).toEqual([true, true, false]);
    expect([allow("b"), allow("c")]).toEqual([true, false]); // the total of 3 is spent
  });
});
