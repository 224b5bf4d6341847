import { planBerthEnv } from "../../releaser/app-env.js";
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../manifest/manifest.js";
import { Sensitive } from "../../core/sensitive.js";
import { resolveAppEnv } from "../../releaser/app-env.js";
import { planWebContainer } from "../../releaser/container-plan.js";
import { planServiceContainer, serviceContainerName, volumeName } from "../../releaser/service-plan.js";

describe("planServiceContainer", () => {
  it("puts the service on the app network under its name, with limits, volumes and a spec hash", () => {
    const plan = planServiceContainer({
      app: "shop",
      environment: "production",
      name: "db",
      network: "berth-shop-production",
      image: "postgres:16",
      env: { POSTGRES_PASSWORD: "pw" },
      resources: { memoryBytes: 268_435_456, cpus: 0.5 },
      volumes: [{ name: "berth-shop-production-pgdata", path: "/var/lib/postgresql/data", readOnly: false }],
    });
    expect(plan).toEqual({
      name: "berth-shop-production-db",
      Image: "postgres:16",
      Env: ["POSTGRES_PASSWORD=pw"],
      Labels: {
        "berth.managed": "true",
        "berth.app": "shop",
        "berth.environment": "production",
        "berth.role": "service",
        "berth.service": "db",
        "berth.spec": expect.stringMatching(/^[0-9a-f]{16}$/),
      },
      HostConfig: {
        Init: true,
        RestartPolicy: { Name: "unless-stopped" },
        NetworkMode: "berth-shop-production",
        LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
        Memory: 268_435_456,
        NanoCpus: 500_000_000,
        Mounts: [{ Type: "volume", Source: "berth-shop-production-pgdata", Target: "/var/lib/postgresql/data", ReadOnly: false }],
      },
      NetworkingConfig: { EndpointsConfig: { "berth-shop-production": { Aliases: ["db"] } } },
    });
  });

  it("changes the spec hash exactly when the definition changes", () => {
    const base = { app: "a", environment: "production", name: "db", network: "n", image: "redis:7", env: {}, resources: {}, volumes: [] };
    const hash = (s: typeof base) => planServiceContainer(s).Labels?.["berth.spec"];
    expect(hash(base)).toBe(hash({ ...base }));
    expect(hash(base)).not.toBe(hash({ ...base, image: "redis:7.2" }));
    expect(hash(base)).not.toBe(hash({ ...base, env: { A: "1" } }));
  });

  it("names services and volumes per environment", () => {
    expect(serviceContainerName("shop", "pr-3", "db")).toBe("berth-shop-pr-3-db");
    expect(volumeName("shop", "production", "media")).toBe("berth-shop-production-media");
  });
});

describe("resolveAppEnv", () => {
  const manifest = parseManifest(
    'env:\n  DATABASE_URL: "postgres://u:${secret.PW}@${service.db.host}:5432/app"\n  MODE: prod\nsecrets: [PW]\nservices:\n  db: { image: "postgres:16" }\npreviews:\n  env: { MODE: preview }\n',
  );

  it("expands secrets and service hosts, with previews.env on top in previews", () => {
    const secrets = new Map([["PW", new Sensitive("p@ss")]]);
    expect(resolveAppEnv(manifest, "production", "shop", secrets)).toEqual({ DATABASE_URL: "postgres://u:p@ss@db:5432/app", MODE: "prod" });
    expect(resolveAppEnv(manifest, "pr-2", "shop", secrets)).toEqual({ DATABASE_URL: "postgres://u:p@ss@db:5432/app", MODE: "preview" });
  });

  it("names a missing secret and how to set it", () => {
    expect(() => resolveAppEnv(manifest, "production", "shop", new Map())).toThrow(
      "berth.yaml needs secret PW, not set for shop. Set it with `berth secrets set shop PW` (or PUT /api/v1/apps/shop/secrets/PW) and push again.",
    );
  });
});

describe("planWebContainer with a manifest", () => {
  it("takes the command, env, limits and volumes; berth's variables win", () => {
    const plan = planWebContainer({
      app: "shop",
      environment: "production",
      sha: "abc",
      deploymentId: 1,
      image: "berth/shop:abc",
      containerName: "c",
      network: "n",
      port: 9090,
      berthEnv: planBerthEnv({ publicName: "shop", environment: "production", sha: "abc", url: "https://shop.example.com" }),
      command: ["gunicorn", "-b", ":9090", "app:app"],
      env: { MODE: "prod", BERTH_APP: "spoofed" },
      resources: { memoryBytes: 536_870_912 },
      volumes: [{ name: "berth-shop-production-media", path: "/app/media", readOnly: false }],
    });
    expect(plan.Cmd).toEqual(["gunicorn", "-b", ":9090", "app:app"]);
    expect(plan.Env).toEqual(["MODE=prod", "BERTH_APP=shop", "BERTH_ENVIRONMENT=production", "BERTH_SHA=abc", "BERTH_URL=https://shop.example.com", "PORT=9090"]);
    expect(plan.HostConfig?.Memory).toBe(536_870_912);
    expect(plan.HostConfig?.Mounts).toEqual([{ Type: "volume", Source: "berth-shop-production-media", Target: "/app/media", ReadOnly: false }]);
  });
});
