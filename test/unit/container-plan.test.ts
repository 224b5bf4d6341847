import { planBerthEnv } from "../../releaser/app-env.js";
import { describe, expect, it } from "vitest";
import { planWebContainer, webPort } from "../../releaser/container-plan.js";
import { kernelMigratesRequests, planProxyContainer, planProxyReload } from "../../releaser/proxy-plan.js";

describe("planWebContainer", () => {
  it("plans the web container with init, restart policy, labels and berth's environment", () => {
    expect(
      planWebContainer({
        app: "shop",
        environment: "production",
        sha: "0123456789abcdef0123456789abcdef01234567",
        deploymentId: 42,
        image: "berth/shop:0123456789abcdef0123456789abcdef01234567",
        containerName: "berth-shop-production-web-0123456-42",
        network: "berth-shop-production",
        port: 8080,
        berthEnv: planBerthEnv({ publicName: "shop", environment: "production", sha: "0123456789abcdef0123456789abcdef01234567", url: "https://shop.example.com" }),
      }),
    ).toEqual({
      name: "berth-shop-production-web-0123456-42",
      Image: "berth/shop:0123456789abcdef0123456789abcdef01234567",
      Env: [
        "BERTH_APP=shop",
        "BERTH_ENVIRONMENT=production",
        "BERTH_SHA=0123456789abcdef0123456789abcdef01234567",
        "BERTH_URL=https://shop.example.com",
        "PORT=8080",
      ],
      ExposedPorts: { "8080/tcp": {} },
      Labels: {
        "berth.managed": "true",
        "berth.app": "shop",
        "berth.environment": "production",
        "berth.sha": "0123456789abcdef0123456789abcdef01234567",
        "berth.deployment": "42",
        "berth.role": "web",
      },
      StopTimeout: 10,
      HostConfig: {
        Init: true,
        RestartPolicy: { Name: "unless-stopped" },
        NetworkMode: "berth-shop-production",
        LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
      },
      NetworkingConfig: { EndpointsConfig: { "berth-shop-production": { Aliases: ["web"] } } },
    });
  });

  it("adds BERTH_PR in previews", () => {
    expect(planBerthEnv({ publicName: "shop", environment: "pr-7", sha: "abc", url: "http://shop-pr-7.localhost" })).toEqual({
      BERTH_APP: "shop",
      BERTH_ENVIRONMENT: "pr-7",
      BERTH_SHA: "abc",
      BERTH_URL: "http://shop-pr-7.localhost",
      BERTH_PR: "7",
    });
  });

  it("gives the web container the release's BERTH_* values, public name included, whatever its Docker name", () => {
    const berthEnv = planBerthEnv({ publicName: "store", environment: "production", sha: "abc", url: "https://store.example.com" });
    const plan = planWebContainer({ app: "shop", environment: "production", sha: "abc", deploymentId: 1, image: "berth/shop:abc", containerName: "c", network: "n", port: 3000, berthEnv });
    expect(plan.Env).toContain("BERTH_APP=store");
    expect(plan.Labels?.["berth.app"]).toBe("shop"); // Docker resources keep the first name
  });
});

describe("webPort", () => {
  it("takes the image's lowest exposed TCP port", () => {
    expect(webPort({ "9000/tcp": {}, "8080/tcp": {}, "53/udp": {} })).toBe(8080);
  });
  it("falls back to 8080 when the image exposes nothing", () => {
    expect(webPort(undefined)).toBe(8080);
    expect(webPort({ "53/udp": {} })).toBe(8080);
  });
});

describe("planProxyContainer", () => {
  it("publishes the ingress ports and keeps certificates on a volume", () => {
    expect(planProxyContainer({ image: "caddy:2-alpine", httpPort: 80, httpsPort: 443 })).toEqual({
      name: "berth-proxy",
      Image: "caddy:2-alpine",
      Cmd: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
      ExposedPorts: { "80/tcp": {}, "443/tcp": {}, "443/udp": {} },
      Labels: { "berth.managed": "true", "berth.role": "proxy", "berth.proxy-spec": "caddy:2-alpine http=80 https=443" },
      HostConfig: {
        RestartPolicy: { Name: "unless-stopped" },
        NetworkMode: "berth-ingress",
        PortBindings: {
          "80/tcp": [{ HostPort: "80" }],
          "443/tcp": [{ HostPort: "443" }],
          "443/udp": [{ HostPort: "443" }],
        },
        Binds: ["berth-proxy-data:/data", "berth-proxy-config:/config"],
        LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
      },
    });
  });

  it("lets a reload hand queued connections to the new listener where the kernel can (5.14+), and says so in its key", () => {
    const plan = planProxyContainer({ image: "caddy:2-alpine", httpPort: 80, httpsPort: 443, migrateRequests: true });
    expect(plan.HostConfig?.Sysctls).toEqual({ "net.ipv4.tcp_migrate_req": "1" });
    expect(plan.Labels?.["berth.proxy-spec"]).toBe("caddy:2-alpine http=80 https=443 migrate-requests");
    expect(["6.1.0-28-amd64", "5.14.0", "6.18.44-fc-v669", "10.0"].map(kernelMigratesRequests)).toEqual([true, true, true, true]);
    expect(["5.13.19", "4.19.0-26-amd64", "3.10.0-1160.el7.x86_64", "", undefined].map(kernelMigratesRequests)).toEqual([false, false, false, false, false]);
  });

  it("reloads with the whole Caddyfile", () => {
    expect(planProxyReload()).toEqual(["caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
  });
});
