import http from "node:http";
import { describe, expect, it } from "vitest";
import { requestPathProblem, routePathProblem } from "../../core/url-path.js";
import { ManifestError, parseManifest } from "../../manifest/manifest.js";
import { planIngress, renderCaddyfile } from "../../releaser/ingress-plan.js";
import { planPathRoutes } from "../../releaser/route-plan.js";
import { errorOf } from "../support/manifest-error-of.js";

/** Candidate paths: a seeded mix of characters the rule allows and characters it refuses. */
function candidates(count: number): string[] {
  const alphabet = [..."abzAZ09-._~!$&'()*+,;=:@/%", "%41", "%e9", "{", "}", '"', "`", "\\", " ", "\t", "?", "#", "[", "]", "é", "健", "<", ">", "|", "^"];
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  return Array.from({ length: count }, () => "/" + Array.from({ length: 1 + next(12) }, () => alphabet[next(alphabet.length)]).join(""));
}

const manifestWithRoute = (path: string): string => `routes:\n  - { path: ${JSON.stringify(path)}, to: "web:8080" }\n`;

/** The route through every planner to the Caddyfile, as a release and the proxy would take it. */
function render(path: string): string {
  const manifest = parseManifest(manifestWithRoute(path));
  const paths = planPathRoutes(manifest, { app: "shop", environment: "production", sha: "abcdef0123", deploymentId: 1, webContainer: "berth-shop-web" });
  return renderCaddyfile(planIngress([{ hostname: "shop.example.com", upstream: "berth-shop-web:8080", paths }], true));
}

describe("route paths", () => {
  it("renders every path the manifest accepts, and the manifest refuses every path the planner would", () => {
    let accepted = 0;
    for (const path of candidates(3000)) {
      let ok = true;
      try {
        parseManifest(manifestWithRoute(path));
      } catch (e) {
        if (!(e instanceof ManifestError)) throw e;
        ok = false;
      }
      expect(ok).toBe(routePathProblem(path) === undefined);
      if (!ok) continue;
      accepted++;
      expect(render(path)).toContain(`\thandle ${path} {\n`);
    }
    // Both sides of the rule were exercised.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });

  it("renders the paths the old planner refused after the manifest took them", () => {
    for (const path of ["/@admin/*", "/api/v1.0+beta/*", "/%7Euser/*", "/a:b;c=d", "/files/(x)/*"]) expect(render(path)).toContain(`\thandle ${path} {\n`);
  });

  it("says what is wrong with a path, at its key", () => {
    const cases: [string, string][] = [
      ["/api?v=1", 'routes[0].path (line 2): a route matches the path alone, never a query or fragment: remove the ? or # and what follows; got "/api?v=1"'],
      ["/docs#top", 'routes[0].path (line 2): a route matches the path alone, never a query or fragment: remove the ? or # and what follows; got "/docs#top"'],
      ["/{x}", `routes[0].path (line 2): expected letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space); got "/{x}"`],
      ["/café", `routes[0].path (line 2): expected letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space); got "/café"`],
      ["/100%", `routes[0].path (line 2): expected letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space); got "/100%"`],
      ["/a[1]", `routes[0].path (line 2): expected letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space); got "/a[1]"`],
    ];
    for (const [path, message] of cases) expect(errorOf(manifestWithRoute(path))).toBe(message);
  });
});

describe("health-check paths", () => {
  it("takes a query, and only what Node can send as a request path", () => {
    expect(requestPathProblem("/health?full=1&x=/y?z")).toBeUndefined();
    expect(requestPathProblem("/santé")).toBe(`expected letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space)`);
    expect(requestPathProblem("/up#x")).toBe("a request carries no fragment: remove the # and what follows");
    expect(errorOf("web:\n  healthcheck: { path: '/健康' }\n")).toBe(
      `web.healthcheck.path (line 2): expected letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space); got "/健康"`,
    );
    for (const path of candidates(2000).map((p, i) => (i % 2 ? `${p}?${p.slice(1)}` : p)).filter((p) => requestPathProblem(p) === undefined)) {
      // http.request validates the path synchronously and throws on what it cannot send.
      const req = http.request({ host: "127.0.0.1", port: 9, path });
      req.on("error", () => undefined);
      req.destroy();
    }
  });
});
