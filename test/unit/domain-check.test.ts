import { describe, expect, it } from "vitest";
import { checkDomain, type DomainResolver } from "../../releaser/domain-check.js";
import { parseManifest } from "../../manifest/manifest.js";
import { errorOf } from "../support/manifest-error-of.js";

const dns = (records: Record<string, { cname?: string[]; a?: string[] }>): DomainResolver => ({
  cname: async (n) => records[n]?.cname ?? Promise.reject(Object.assign(new Error("no"), { code: "ENODATA" })),
  addresses: async (n) => records[n]?.a ?? [],
});
const target = { appHost: "shop.berth.example", domain: "berth.example", addresses: ["203.0.113.7"] };

describe("checkDomain", () => {
  it("takes a CNAME to any hostname under BERTH_DOMAIN, or addresses all of berth's ingress", async () => {
    expect(await checkDomain("www.shop.com", target, dns({ "www.shop.com": { cname: ["shop.berth.example."] } }))).toEqual({ verified: true });
    expect(await checkDomain("www.shop.com", target, dns({ "www.shop.com": { cname: ["edge.berth.example"] } }))).toEqual({ verified: true });
    expect(await checkDomain("shop.com", target, dns({ "shop.com": { a: ["203.0.113.7"] } }))).toEqual({ verified: true });
  });

  it("says exactly which record to add otherwise", async () => {
    expect(await checkDomain("shop.com", target, dns({ "shop.com": { a: ["203.0.113.7", "198.51.100.1"] } }))).toEqual({
      verified: false,
      problem: "shop.com does not point at berth yet: it points at 203.0.113.7, 198.51.100.1. Add a CNAME record shop.com → shop.berth.example (or, for an apex domain, A/AAAA records to 203.0.113.7).",
    });
    expect(await checkDomain("x.com", { ...target, addresses: [] }, dns({ "x.com": { cname: ["berth.example.evil.com"] } }))).toEqual({
      verified: false,
      problem: "x.com does not point at berth yet: it is a CNAME to berth.example.evil.com. Add a CNAME record x.com → shop.berth.example.",
    });
    expect(await checkDomain("y.com", target, dns({}))).toMatchObject({ verified: false, problem: expect.stringContaining("it has no A, AAAA or CNAME record") });
    const broken: DomainResolver = { cname: () => Promise.reject(Object.assign(new Error("queryRefused"), { code: "EREFUSED" })), addresses: async () => [] };
    expect(await checkDomain("z.com", target, broken)).toMatchObject({ verified: false, problem: expect.stringContaining("DNS lookup of z.com failed (queryRefused)") });
  });
});

describe("berth.yaml domains", () => {
  it("reads names and redirects between them, refusing wildcards, duplicates and redirects to nowhere", () => {
    expect(parseManifest("domains: [shop.com, { name: www.shop.com, redirect_to: shop.com }]\n").domains).toEqual([{ name: "shop.com" }, { name: "www.shop.com", redirectTo: "shop.com" }]);
    expect(errorOf("domains: ['*.shop.com']\n")).toContain("expected a domain name");
    expect(errorOf("domains: [shop.com, shop.com]\n")).toContain("shop.com is listed twice");
    expect(errorOf("domains: [{ name: www.shop.com, redirect_to: other.com }]\n")).toContain("expected another domain of this list");
    expect(errorOf("domains: [localhost]\n")).toContain("expected a domain name");
  });
});
