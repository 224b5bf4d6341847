import { describe, expect, it } from "vitest";
import { parseManifest } from "../../manifest/manifest.js";
import { planPathRoutes } from "../../releaser/route-plan.js";

const manifest = parseManifest(
  [
    "processes: { docs: { command: serve-docs, replicas: 2 }, idle: { command: x, replicas: 0 } }",
    "services: { cache: { image: redis:7 } }",
    "routes:",
    "  - { path: /documentation/*, to: 'docs:8000' }",
    "  - { path: /cache/*, to: 'cache:6379' }",
    "  - { path: /ws/*, to: 'web:8080' }",
    "  - { path: /never/*, to: 'idle:9000' }",
    "",
  ].join("\n"),
);
const sha = "abcdef0123456789abcdef0123456789abcdef01";

describe("planPathRoutes", () => {
  it("dials web, every replica of a process and the service of the same environment, in file order", () => {
    expect(planPathRoutes(manifest, { app: "shop", environment: "pr-3", sha, deploymentId: 41, webContainer: "berth-shop-pr-3-web-abcdef0-41" })).toEqual([
      { path: "/documentation/*", upstreams: ["berth-shop-pr-3-docs-abcdef0-41-1:8000", "berth-shop-pr-3-docs-abcdef0-41-2:8000"] },
      { path: "/cache/*", upstreams: ["berth-shop-pr-3-cache:6379"] },
      { path: "/ws/*", upstreams: ["berth-shop-pr-3-web-abcdef0-41:8080"] },
      // a process with no replicas has nothing to dial: the path falls through to web
    ]);
  });

  it("sends a preview that shares production's services to production's service containers", () => {
    const routes = planPathRoutes(manifest, { app: "shop", environment: "pr-3", sha, deploymentId: 41, webContainer: "w", servicesEnvironment: "production" });
    expect(routes.find((r) => r.path === "/cache/*")?.upstreams).toEqual(["berth-shop-production-cache:6379"]);
    expect(routes.find((r) => r.path === "/documentation/*")?.upstreams[0]).toBe("berth-shop-pr-3-docs-abcdef0-41-1:8000");
  });
});
