import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.js";
import { appHostConfig, planWebContainer } from "../../releaser/container-plan.js";
import { planProcessContainers } from "../../releaser/process-plan.js";
import { planServiceContainer } from "../../releaser/service-plan.js";

const LOGS = { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } };
const OPERATOR = { memoryBytes: 1_073_741_824, cpus: 2, pids: 1024 };

describe("the operator's default limits of app containers", () => {
  it("are read from BERTH_APP_MEMORY, BERTH_APP_CPUS and BERTH_APP_PIDS; processes are limited unless turned off", () => {
    expect(loadConfig({}).appLimits).toEqual({ pids: 1024 });
    expect(loadConfig({ BERTH_APP_MEMORY: "1g", BERTH_APP_CPUS: "2", BERTH_APP_PIDS: "4096" }).appLimits).toEqual({ memoryBytes: 1_073_741_824, cpus: 2, pids: 4096 });
    expect(loadConfig({ BERTH_APP_PIDS: "0" }).appLimits).toEqual({});
    expect(() => loadConfig({ BERTH_APP_MEMORY: "lots", BERTH_APP_CPUS: "0", BERTH_APP_PIDS: "-1" })).toThrow(
      [
        "berth cannot start; fix these environment variables:",
        "  - BERTH_APP_MEMORY=lots: expected a size of at least 6m, such as 512m or 2g",
        "  - BERTH_APP_CPUS=0: expected a number of CPUs such as 1 or 0.5",
        "  - BERTH_APP_PIDS=-1: expected a whole number from 0 to 4194304",
      ].join("\n"),
    );
  });

  it("fill in what berth.yaml's resources leave unset, and PidsLimit always", () => {
    expect(appHostConfig("n", { memoryBytes: 536_870_912 }, undefined, OPERATOR)).toEqual({
      Init: true,
      RestartPolicy: { Name: "unless-stopped" },
      NetworkMode: "n",
      LogConfig: LOGS,
      Memory: 536_870_912,
      NanoCpus: 2_000_000_000,
      PidsLimit: 1024,
    });
    expect(appHostConfig("n", {}, undefined, { pids: 1024 })).toEqual({ Init: true, RestartPolicy: { Name: "unless-stopped" }, NetworkMode: "n", LogConfig: LOGS, PidsLimit: 1024 });
    expect(appHostConfig("n", { cpus: 0.5 }, undefined, undefined)).toEqual({ Init: true, RestartPolicy: { Name: "unless-stopped" }, NetworkMode: "n", LogConfig: LOGS, NanoCpus: 500_000_000 });
  });

  it("apply to web, to every process replica and to services", () => {
    const web = planWebContainer({
      app: "shop",
      environment: "production",
      sha: "abc",
      deploymentId: 1,
      image: "berth/shop:abc",
      containerName: "w",
      network: "n",
      port: 8080,
      berthEnv: {},
      resources: { cpus: 1 },
      defaultLimits: OPERATOR,
    });
    expect(web.HostConfig).toEqual({ Init: true, RestartPolicy: { Name: "unless-stopped" }, NetworkMode: "n", LogConfig: LOGS, Memory: 1_073_741_824, NanoCpus: 1_000_000_000, PidsLimit: 1024 });

    const processes = planProcessContainers({
      app: "shop",
      environment: "production",
      sha: "abc",
      deploymentId: 1,
      image: "berth/shop:abc",
      network: "n",
      name: "worker",
      settings: { command: ["work"], replicas: 2, resources: { memoryBytes: 268_435_456 }, volumes: [] },
      env: {},
      volumes: [],
      defaultLimits: OPERATOR,
    });
    expect(processes.map((p) => p.HostConfig)).toEqual(
      Array(2).fill({ Init: true, RestartPolicy: { Name: "unless-stopped" }, NetworkMode: "n", LogConfig: LOGS, Memory: 268_435_456, NanoCpus: 2_000_000_000, PidsLimit: 1024 }),
    );

    const service = { app: "shop", environment: "production", name: "db", network: "n", image: "postgres:16", env: {}, resources: {}, volumes: [] };
    expect(planServiceContainer({ ...service, defaultLimits: OPERATOR }).HostConfig).toEqual({
      Init: true,
      RestartPolicy: { Name: "unless-stopped" },
      NetworkMode: "n",
      LogConfig: LOGS,
      Memory: 1_073_741_824,
      NanoCpus: 2_000_000_000,
      PidsLimit: 1024,
    });
    // New defaults recreate a running service, or it would keep the old limits.
    expect(planServiceContainer({ ...service, defaultLimits: OPERATOR }).Labels?.["berth.spec"]).not.toBe(planServiceContainer(service).Labels?.["berth.spec"]);
  });
});
