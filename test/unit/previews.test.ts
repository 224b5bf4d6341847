import { describe, expect, it } from "vitest";
import { parseDuration } from "../../manifest/units.js";
import { prNumberOf } from "../../core/names.js";
import { renderPreviewComment } from "../../github/preview-comment.js";
import { environmentName, hostnameFor, networkName } from "../../core/names.js";
import type { ContainerInfo, ManagedResources } from "../../releaser/docker-host.js";
import { findStrays, planTeardown } from "../../releaser/teardown-plan.js";

const container = (name: string, labels: Record<string, string>): ContainerInfo => ({ id: `id-${name}`, name, running: true, image: "i", labels, networks: [] });

describe("preview naming", () => {
  it("names environments, hostnames and networks per pull request", () => {
    expect(environmentName(12)).toBe("pr-12");
    expect(environmentName()).toBe("production");
    expect(hostnameFor("shop", environmentName(12), "apps.example.com")).toBe("shop-pr-12.apps.example.com");
    expect(networkName("shop", "pr-12")).toBe("berth-shop-pr-12");
    expect(prNumberOf("pr-12")).toBe(12);
    expect(prNumberOf("production")).toBeUndefined();
    expect(prNumberOf("pr-x")).toBeUndefined();
  });

  it("reads preview TTLs as durations", () => {
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("7 days")).toBeUndefined();
  });
});

describe("renderPreviewComment", () => {
  it("renders a live preview with its link, short sha and log", () => {
    expect(
      renderPreviewComment({ state: "live", sha: "0123456789abcdef", url: "https://shop-pr-3.apps.example.com", logUrl: "https://berth.example.com/deployments/9" }),
    ).toBe(
      [
        "<!-- berth -->",
        "### ✅ berth preview: live",
        "",
        "| | |",
        "|---|---|",
        "| **Preview** | [https://shop-pr-3.apps.example.com](https://shop-pr-3.apps.example.com) |",
        "| **Commit** | `0123456` |",
        "| **State** | live |",
        "| **Log** | [deployment log](https://berth.example.com/deployments/9) |",
        "",
      ].join("\n"),
    );
  });

  it("strikes the URL through once removed and carries the note", () => {
    const text = renderPreviewComment({ state: "removed", sha: "abcdef0123", url: "http://a-pr-1.localhost", logUrl: "http://b/deployments/1", note: "The pull request was closed." });
    expect(text).toContain("### 🧹 berth preview: removed");
    expect(text).toContain("| **Preview** | ~~http://a-pr-1.localhost~~ |");
    expect(text.endsWith("\nThe pull request was closed.\n")).toBe(true);
  });

  it("says when a fork waits for approval", () => {
    const text = renderPreviewComment({ state: "waiting", sha: "abcdef0123", url: "http://a-pr-1.localhost", logUrl: "http://b/deployments/1", note: "Add `berth:preview`." });
    expect(text).toContain("### ✋ berth preview: waiting for approval");
    expect(text).toContain("| **State** | waiting |");
  });
});

describe("planTeardown", () => {
  it("removes containers, then networks, volumes and images, and never the proxy", () => {
    const resources: ManagedResources = {
      containers: [
        container("berth-shop-pr-3-web-b", { "berth.role": "web" }),
        container("berth-proxy", { "berth.role": "proxy" }),
        container("berth-shop-pr-3-web-a", { "berth.role": "web" }),
      ],
      networks: [{ name: "berth-shop-pr-3", labels: {} }],
      volumes: [{ name: "berth-shop-pr-3-data", labels: {} }],
    };
    expect(planTeardown(resources, ["berth/shop:b", "berth/shop:a", "berth/shop:b"])).toEqual({
      containers: ["berth-shop-pr-3-web-a", "berth-shop-pr-3-web-b"],
      networks: ["berth-shop-pr-3"],
      volumes: ["berth-shop-pr-3-data"],
      images: ["berth/shop:a", "berth/shop:b"],
    });
  });
});

describe("findStrays", () => {
  it("finds preview resources that belong to no open preview, ignoring production and unlabelled ones", () => {
    const l = (app: string, environment: string) => ({ "berth.managed": "true", "berth.app": app, "berth.environment": environment });
    const resources: ManagedResources = {
      containers: [container("a", l("shop", "pr-1")), container("b", l("shop", "pr-2")), container("c", l("shop", "production")), container("p", { "berth.role": "proxy" })],
      networks: [{ name: "berth-blog-pr-7", labels: l("blog", "pr-7") }],
      volumes: [{ name: "v", labels: l("shop", "pr-2") }],
    };
    const open = new Set(["shop/pr-1"]);
    expect(findStrays(resources, (app, env) => open.has(`${app}/${env}`))).toEqual([
      { app: "blog", environment: "pr-7" },
      { app: "shop", environment: "pr-2" },
    ]);
  });
});
