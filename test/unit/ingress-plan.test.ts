import { describe, expect, it } from "vitest";
import { planIngress, renderCaddyfile } from "../../releaser/ingress-plan.js";

/** Caddy's own log, as every rendered config sets it: requests there never carry berth's credentials. */
const DEFAULT_LOG = [
  "\t# Caddy's own log (errors, a 502 among them) writes requests as they came: never berth's credentials.",
  "\tlog default {",
  "\t\toutput stderr",
  "\t\tformat filter {",
  "\t\t\twrap json",
  "\t\t\tfields {",
  "\t\t\t\trequest>headers>X-Berth-Preview-Token delete",
  "\t\t\t\trequest>headers>X-Berth-Front-Door delete",
  "\t\t\t}",
  "\t\t}",
  "\t}",
];

describe("planIngress", () => {
  it("groups routes by hostname in a stable order", () => {
    expect(
      planIngress(
        [
          { hostname: "shop.example.com", upstream: "172.18.0.3:8080" },
          { hostname: "api.example.com", upstream: "172.19.0.2:3000" },
          { hostname: "shop.example.com", upstream: "172.18.0.2:8080" },
        ],
        true,
      ),
    ).toEqual({
      tls: true,
      plainHttp: false,
      sites: [
        { hostname: "api.example.com", upstreams: ["172.19.0.2:3000"], paths: [], logRequests: false },
        { hostname: "shop.example.com", upstreams: ["172.18.0.2:8080", "172.18.0.3:8080"], paths: [], logRequests: false },
      ],
    });
  });

  it("refuses values that could break out of the Caddyfile", () => {
    expect(() => planIngress([{ hostname: "evil.com {\n}", upstream: "1.2.3.4:80" }], false)).toThrow(/refusing to route/);
    expect(() => planIngress([{ hostname: "ok.com", upstream: "1.2.3.4:80 }" }], false)).toThrow(/refusing to route/);
  });
});

describe("renderCaddyfile", () => {
  it("renders plain HTTP sites and a 404 fallback when TLS is off", () => {
    const text = renderCaddyfile(planIngress([{ hostname: "hello.localhost", upstream: "172.18.0.2:8080" }], false));
    expect(text).toBe(
      [
        "# Rendered whole by berth from its desired state; edits here are overwritten on the next release.",
        "{",
        "\tadmin localhost:2019",
        "\tauto_https off",
        "\tgrace_period 30s",
        ...DEFAULT_LOG,
        "}",
        "",
        "http://hello.localhost {",
        "\treverse_proxy 172.18.0.2:8080 {",
        "\t\tlb_try_duration 5s",
        "\t}",
        "}",
        "",
        "http:// {",
        '\trespond "No berth app is served at this host." 404',
        "}",
        "",
      ].join("\n"),
    );
  });

  it("sends path routes to their upstreams first, everything else to web", () => {
    const text = renderCaddyfile(
      planIngress(
        [
          {
            hostname: "shop.example.com",
            upstream: "berth-shop-production-web-abc-1:8080",
            paths: [
              { path: "/static/*", upstreams: ["berth-shop-production-nginx:80"] },
              { path: "/ws/*", upstreams: ["berth-shop-production-ws-abc-1-2:9000", "berth-shop-production-ws-abc-1-1:9000"] },
            ],
          },
        ],
        true,
      ),
    );
    expect(text).toBe(
      [
        "# Rendered whole by berth from its desired state; edits here are overwritten on the next release.",
        "{",
        "\tadmin localhost:2019",
        "\tgrace_period 30s",
        ...DEFAULT_LOG,
        "}",
        "",
        "shop.example.com {",
        "\thandle /static/* {",
        "\t\treverse_proxy berth-shop-production-nginx:80 {",
        "\t\t\tlb_try_duration 5s",
        "\t\t}",
        "\t}",
        "\thandle /ws/* {",
        "\t\treverse_proxy berth-shop-production-ws-abc-1-1:9000 berth-shop-production-ws-abc-1-2:9000 {",
        "\t\t\tlb_try_duration 5s",
        "\t\t}",
        "\t}",
        "\thandle {",
        "\t\treverse_proxy berth-shop-production-web-abc-1:8080 {",
        "\t\t\tlb_try_duration 5s",
        "\t\t}",
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
    expect(() => planIngress([{ hostname: "a.com", upstream: "x:1", paths: [{ path: "/a b", upstreams: ["y:2"] }] }], true)).toThrow(/refusing to route/);
  });

  it("lets Caddy manage certificates when TLS is on", () => {
    const text = renderCaddyfile(planIngress([{ hostname: "shop.example.com", upstream: "172.18.0.2:8080" }], true));
    expect(text).toBe(
      [
        "# Rendered whole by berth from its desired state; edits here are overwritten on the next release.",
        "{",
        "\tadmin localhost:2019",
        "\tgrace_period 30s",
        ...DEFAULT_LOG,
        "}",
        "",
        "shop.example.com {",
        "\treverse_proxy 172.18.0.2:8080 {",
        "\t\tlb_try_duration 5s",
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
  });
});
