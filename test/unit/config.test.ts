import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.js";

const KEY = "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    expect(c.github).toBeUndefined();
    expect(c.port).toBe(3000);
    expect(c.domain).toBe("localhost");
    expect(c.tls).toBe(false);
    expect(c.ingressHttpPort).toBe(80);
    expect(c.ingressHttpsPort).toBe(443);
    expect(c.dockerHost).toBe("unix:///var/run/docker.sock");
    expect(c.proxyImage).toBe("caddy:2-alpine");
    expect(c.publicUrl).toBe("http://localhost:3000");
    expect(c.redisUrl.unwrap()).toBe("redis://127.0.0.1:6379");
    expect(c.githubApiUrl).toBe("https://api.github.com");
    expect(c.reconcileIntervalSeconds).toBe(60);
    expect(c.roles).toEqual(["server", "builder", "releaser"]);
    expect(c.registry).toBeUndefined();
  });

  it("reads BERTH_REGISTRY as host, port and path, refusing a scheme", () => {
    expect(loadConfig({ BERTH_REGISTRY: "registry.example.com:5000/berth/" }).registry).toBe("registry.example.com:5000/berth");
    expect(loadConfig({ BERTH_REGISTRY: "127.0.0.1:5000" }).registry).toBe("127.0.0.1:5000");
    expect(() => loadConfig({ BERTH_REGISTRY: "https://registry.example.com" })).toThrow(
      "BERTH_REGISTRY=https://registry.example.com: expected a registry host, port and path without a scheme, e.g. registry.example.com:5000/berth",
    );
  });

  it("turns TLS on for real domains and reads GitHub Enterprise", () => {
    const c = loadConfig({ BERTH_DOMAIN: "apps.example.com", GHE_HOST: "ghe.corp", APP_ID: "7", PRIVATE_KEY: KEY, WEBHOOK_SECRET: "s" });
    expect(c.tls).toBe(true);
    expect(c.githubApiUrl).toBe("https://ghe.corp/api/v3");
    expect(c.github?.appId).toBe("7");
    expect(String(c.github?.privateKey)).toBe("[redacted]");
    expect(JSON.stringify(c)).not.toContain("BEGIN RSA");
  });

  it("names every variable that is wrong, in one message", () => {
    expect(() =>
      loadConfig({ PORT: "http", BERTH_TLS: "maybe", APP_ID: "x", DATABASE_URL: "mysql://h/db", BERTH_DOCKER_HOST: "/var/run/docker.sock" }),
    ).toThrow(
      [
        "berth cannot start; fix these environment variables:",
        "  - PORT=http: expected a whole number from 1 to 65535",
        "  - BERTH_TLS=maybe: expected on, internal or off",
        "  - BERTH_DOCKER_HOST=/var/run/docker.sock: expected unix:///path, tcp://host:port or ssh://user@host",
        "  - APP_ID: expected the GitHub App's numeric id (App settings → About)",
        "  - PRIVATE_KEY or PRIVATE_KEY_PATH: set the GitHub App's private key (PEM)",
        "  - WEBHOOK_SECRET: set the GitHub App's webhook secret; berth refuses unsigned webhooks",
        "  - DATABASE_URL=mysql://h/db: expected a URL starting with postgres:// or postgresql://",
      ].join("\n"),
    );
  });

  it("requires BERTH_SECRET_KEY in production once an App is configured, but never locks the operator out of /setup", () => {
    expect(() => loadConfig({ NODE_ENV: "production", APP_ID: "7", PRIVATE_KEY: KEY, WEBHOOK_SECRET: "s" })).toThrow("BERTH_SECRET_KEY: required when NODE_ENV=production");
    expect(loadConfig({ NODE_ENV: "production" }).github).toBeUndefined(); // setup mode starts
    expect(loadConfig({ NODE_ENV: "production", BERTH_SECRET_KEY: "ab".repeat(32) }).secretKey?.toString()).toBe("[redacted]");
    expect(() => loadConfig({ BERTH_SECRET_KEY: "short" })).toThrow("BERTH_SECRET_KEY: expected 32 bytes");
  });

  it("loads the App /setup registered from BERTH_DATA_DIR, unless the environment names one", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-data-"));
    writeFileSync(join(dir, "github-app.env"), `APP_ID=42\nWEBHOOK_SECRET=from-setup\nPRIVATE_KEY="${KEY.replace(/\n/g, "\\n")}"\nOTHER=ignored\n`);
    const c = loadConfig({ BERTH_DATA_DIR: dir });
    expect(c.github?.appId).toBe("42");
    expect(c.github?.webhookSecret.unwrap()).toBe("from-setup");
    expect(c.github?.privateKey.unwrap()).toBe(KEY);
    expect(loadConfig({ BERTH_DATA_DIR: dir, APP_ID: "7", PRIVATE_KEY: KEY, WEBHOOK_SECRET: "env" }).github?.appId).toBe("7");
    rmSync(dir, { recursive: true });
  });

  it("reads the App's OAuth client for Log in with GitHub, from the environment or what /setup kept, and BERTH_SESSION_TTL", () => {
    expect(loadConfig({}).oauth).toBeUndefined();
    expect(loadConfig({}).sessionTtlMs).toBe(8 * 3600_000);
    expect(loadConfig({ BERTH_SESSION_TTL: "30m" }).sessionTtlMs).toBe(1_800_000);
    expect(() => loadConfig({ BERTH_SESSION_TTL: "90d" })).toThrow("BERTH_SESSION_TTL=90d: expected a duration");
    const c = loadConfig({ GITHUB_CLIENT_ID: "Iv1.abc", GITHUB_CLIENT_SECRET: "s3cret" });
    expect(c.oauth?.clientId).toBe("Iv1.abc");
    expect(String(c.oauth?.clientSecret)).toBe("[redacted]");
    expect(() => loadConfig({ GITHUB_CLIENT_ID: "Iv1.abc" })).toThrow("GITHUB_CLIENT_SECRET: set the GitHub App's client secret");
    const dir = mkdtempSync(join(tmpdir(), "berth-data-"));
    writeFileSync(join(dir, "github-app.env"), `APP_ID=42\nWEBHOOK_SECRET=w\nPRIVATE_KEY="${KEY.replace(/\n/g, "\\n")}"\nGITHUB_CLIENT_ID=Iv1.kept\nGITHUB_CLIENT_SECRET=kept\n`);
    expect(loadConfig({ BERTH_DATA_DIR: dir }).oauth?.clientId).toBe("Iv1.kept");
    rmSync(dir, { recursive: true });
  });

  it("names this installation with BERTH_INSTANCE, berth by default", () => {
    expect(loadConfig({}).instance).toBe("berth");
    expect(loadConfig({ BERTH_INSTANCE: "staging" }).instance).toBe("staging");
    expect(() => loadConfig({ BERTH_INSTANCE: "Bad Name" })).toThrow("BERTH_INSTANCE=Bad Name: expected a lower-case name");
  });
});

describe("loadConfig's ceilings", () => {
  it("refuses durations that would overflow a timer or make no sense", () => {
    expect(() => loadConfig({ BERTH_BUILD_TIMEOUT: "3650d", BERTH_PREVIEW_TTL: "400d", BERTH_BUILD_PROGRESS_INTERVAL: "2h" })).toThrow(
      [
        "berth cannot start; fix these environment variables:",
        "  - BERTH_BUILD_PROGRESS_INTERVAL=2h: expected a duration such as 90s, 30m, 12h or 7d, at most 1h",
        "  - BERTH_PREVIEW_TTL=400d: expected a duration such as 90s, 30m, 12h or 7d, at most 365d",
        "  - BERTH_BUILD_TIMEOUT=3650d: expected a duration such as 90s, 30m, 12h or 7d, at most 7d",
      ].join("\n"),
    );
    expect(loadConfig({ BERTH_BUILD_TIMEOUT: "7d" }).buildTimeoutMs).toBe(604_800_000);
  });
});
