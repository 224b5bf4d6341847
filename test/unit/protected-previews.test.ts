import { describe, expect, it } from "vitest";
import { planIngress, protectRoutes, renderCaddyfile, withGate } from "../../releaser/ingress-plan.js";
import { accessFor, parseManifest } from "../../manifest/manifest.js";
import { cookieName, machineToken, previewNext, wantsLogin } from "../../server/preview-gate.js";
import { BoundedTtl } from "../../server/bounded-ttl.js";
import { systemClock } from "../../core/clock.js";
import { Sensitive } from "../../core/sensitive.js";

const preview = { environment: "pr-3", private: false, untrusted: false };

describe("accessFor", () => {
  it("protects a private repository's previews by default and keeps production public", () => {
    const m = parseManifest("");
    expect(accessFor(m, { ...preview, private: true })).toBe("github");
    expect(accessFor(m, preview)).toBe("public");
    expect(accessFor(m, { ...preview, environment: "production", private: true })).toBe("public");
    expect(accessFor(null, { ...preview, private: true })).toBe("github");
    // Not known yet (an app from before protected previews): as private, never public by default.
    expect(accessFor(m, { ...preview, private: null })).toBe("github");
  });

  it("follows previews.access and production's access", () => {
    expect(accessFor(parseManifest("previews: { access: public }"), { ...preview, private: true })).toBe("public");
    expect(accessFor(parseManifest("previews: { access: github }"), preview)).toBe("github");
    const closed = parseManifest("access: github");
    expect(accessFor(closed, { ...preview, environment: "production" })).toBe("github");
    // A protected production protects its previews unless they say otherwise.
    expect(accessFor(closed, preview)).toBe("github");
  });

  it("never lets a fork's or bot's berth.yaml open a preview that would be protected", () => {
    const open = parseManifest("previews: { access: public }");
    expect(accessFor(open, { ...preview, private: true, untrusted: true })).toBe("github");
    expect(accessFor(parseManifest("previews: { access: github }"), { ...preview, untrusted: true })).toBe("github");
    expect(accessFor(open, { ...preview, untrusted: true })).toBe("public");
  });
});

describe("previewNext and wantsLogin", () => {
  it("keeps local paths only", () => {
    expect(previewNext("/a/b?c=d")).toBe("/a/b?c=d");
    for (const bad of ["//evil.example", "/\\evil", "https://evil.example/", "", null, "/a b", `/${"x".repeat(1100)}`]) expect(previewNext(bad)).toBe("/");
  });

  it("redirects browsers' page loads only", () => {
    expect(wantsLogin("GET", "text/html,application/xhtml+xml")).toBe(true);
    expect(wantsLogin("POST", "text/html")).toBe(false);
    expect(wantsLogin("GET", "application/json")).toBe(false);
    expect(wantsLogin("GET", undefined)).toBe(false);
  });
});

describe("machineToken", () => {
  it("reads the header, or Basic auth as user berth only", () => {
    expect(machineToken({ headers: { "x-berth-preview-token": "bpt_x" } })).toBe("bpt_x");
    expect(machineToken({ headers: { authorization: `Basic ${Buffer.from("berth:bpt_y").toString("base64")}` } })).toBe("bpt_y");
    expect(machineToken({ headers: { authorization: `Basic ${Buffer.from("alice:pw").toString("base64")}` } })).toBeUndefined();
    expect(machineToken({ headers: { authorization: "Bearer abc" } })).toBeUndefined();
    expect(machineToken({ headers: {} })).toBeUndefined();
  });

  it("names the cookie __Host- under HTTPS", () => {
    expect(cookieName(true)).toBe("__Host-berth_preview");
    expect(cookieName(false)).toBe("berth_preview");
  });
});

describe("protected sites in the Caddyfile", () => {
  const routes = protectRoutes(
    [
      { hostname: "app-pr-1.localhost", upstream: "c1:8080" },
      { hostname: "app-pr-2.localhost", upstream: "172.18.0.1:4000" },
      { hostname: "app.localhost", upstream: "c0:8080" },
    ],
    new Set(["app-pr-1.localhost", "app-pr-2.localhost"]),
  );

  it("asks the gate first, and strips berth's credentials unless the upstream is the gate's own listener", () => {
    const config = withGate(planIngress(routes, false), "172.18.0.1:4000");
    expect(config.sites.map((s) => [s.hostname, s.protect ?? false, s.strip ?? false])).toEqual([
      ["app-pr-1.localhost", true, true],
      ["app-pr-2.localhost", true, false],
      ["app.localhost", false, false],
    ]);
    const text = renderCaddyfile({ ...planIngress(routes, false), auth: "172.18.0.1:4000" });
    const site = text.slice(text.indexOf("http://app-pr-1.localhost {"), text.indexOf("http://app-pr-2.localhost {"));
    expect(site).toBe(
      [
        "http://app-pr-1.localhost {",
        "\t@berth_basic header_regexp Authorization (?i)^basic\\s+YmVydGg6",
        "\trequest_header @berth_basic -Authorization",
        "\trequest_header -X-Berth-Preview-Token",
        '\trequest_header Cookie "(?:__Host-)?berth_(?:preview|session)=[^;]*;?\\s*()" "$1"',
        "\tforward_auth 172.18.0.1:4000 {",
        "\t\turi /.berth/preview-auth",
        "\t\theader_up Host {upstream_hostport}",
        "\t\theader_up X-Berth-Host {host}",
        "\t\theader_up X-Berth-Scheme {scheme}",
        "\t}",
        "\treverse_proxy c1:8080 {",
        "\t\tlb_try_duration 5s",
        "\t}",
        "}",
        "",
        "",
      ].join("\n"),
    );
    expect(text.slice(text.indexOf("http://app.localhost {"))).not.toContain("forward_auth");
  });

  it("answers 503 for protected sites, never the app, while the gate is unknown", () => {
    const text = renderCaddyfile(planIngress(routes, false));
    const site = text.slice(text.indexOf("http://app-pr-1.localhost {"), text.indexOf("http://app-pr-2.localhost {"));
    expect(site).toContain('respond "This app needs a login, and berth cannot check logins right now; try again shortly." 503');
    expect(site).not.toContain("reverse_proxy");
  });

  it("keeps protection on path routes", () => {
    const paths = [{ hostname: "app-pr-1.localhost", upstream: "c1:8080", paths: [{ path: "/static/*", upstreams: ["n:80"] }], protect: true }];
    const text = renderCaddyfile({ ...planIngress(paths, false), auth: "10.0.0.1:1" });
    expect(text.indexOf("forward_auth")).toBeGreaterThan(0);
    expect(text.indexOf("forward_auth")).toBeLessThan(text.indexOf("handle /static/*"));
  });
});

describe("a droid's proxy behind the front door", () => {
  const key = new Sensitive("0f".repeat(32));
  const routes = protectRoutes(
    [
      { hostname: "app-pr-1.localhost", upstream: "c1:8080" },
      { hostname: "app.localhost", upstream: "c0:8080" },
    ],
    new Set(["app-pr-1.localhost"]),
  );

  it("answers a protected site only with the front door's key, never asks berth, and removes the key everywhere", () => {
    const text = renderCaddyfile({ ...planIngress(routes, false, true), auth: "172.18.0.1:4000", frontDoorKey: key });
    const site = text.slice(text.indexOf("http://app-pr-1.localhost {"), text.indexOf("http://app.localhost {"));
    expect(site).not.toContain("forward_auth");
    const check = site.indexOf(`@berth_outside not header X-Berth-Front-Door ${"0f".repeat(32)}`);
    const refuse = site.indexOf("respond @berth_outside");
    const strip = site.indexOf("request_header -X-Berth-Front-Door");
    // Inside one route block, in this order: the check before the header goes, both before the app.
    expect(site.indexOf("route {")).toBeGreaterThan(0);
    expect([site.indexOf("route {") < check, check < refuse, refuse < strip, strip < site.indexOf("reverse_proxy c1:8080")]).toEqual([true, true, true, true]);
    const open = text.slice(text.indexOf("http://app.localhost {"));
    expect(open).toContain("request_header -X-Berth-Front-Door");
    expect(open).not.toContain("@berth_outside");
  });

  it("has the front door send the key to the droid only, and never renders a key it did not make", () => {
    const door = renderCaddyfile(planIngress([{ hostname: "app-pr-1.localhost", upstream: "10.252.0.2:80", upstreamKey: key }, { hostname: "here.localhost", upstream: "c2:80" }], false));
    expect(door.slice(door.indexOf("http://app-pr-1.localhost {"), door.indexOf("http://here.localhost {"))).toContain(`header_up X-Berth-Front-Door ${"0f".repeat(32)}`);
    expect(door.slice(door.indexOf("http://here.localhost {"))).not.toContain("X-Berth-Front-Door");
    expect(() => renderCaddyfile({ ...planIngress(routes, false, true), frontDoorKey: new Sensitive("x }\n") })).toThrow(/64 hex/);
    // A route refused for its characters names the route without the key.
    expect(() => planIngress([{ hostname: "bad host", upstream: "10.252.0.2:80", upstreamKey: key }], false)).toThrow(/\[redacted\]/);
  });
});

describe("BoundedTtl", () => {
  it("forgets entries after the time and the oldest when full", () => {
    let now = 0;
    const m = new BoundedTtl<number>(1000, 2, { ...systemClock, now: () => now });
    m.set("a", 1);
    m.set("b", 2);
    m.set("c", 3);
    expect([m.get("a"), m.get("b"), m.get("c")]).toEqual([undefined, 2, 3]);
    now = 1000;
    expect(m.get("b")).toBeUndefined();
  });
});
