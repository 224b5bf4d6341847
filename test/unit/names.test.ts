import { describe, expect, it } from "vitest";
import { appNameFromRepo, reservedNamePart, hostnameFor, imageRef, networkName, publicUrl, webContainerName } from "../../core/names.js";

describe("names", () => {
  it("makes repository names DNS-safe", () => {
    expect(appNameFromRepo("Hello-World")).toBe("hello-world");
    expect(appNameFromRepo("my_app.v2")).toBe("my-app-v2");
    expect(appNameFromRepo("--Weird__Name--")).toBe("weird-name");
    expect(appNameFromRepo("___")).toBe("app");
    expect(appNameFromRepo("a".repeat(60))).toBe("a".repeat(40));
    expect(appNameFromRepo("x".repeat(39) + "-y")).toBe("x".repeat(39));
  });

  it("never gives a repository a preview's hostname, nor a name with a part that reads like an environment", () => {
    expect(appNameFromRepo("shop-PR-3")).toBe("shop-pr3");
    expect(appNameFromRepo("shop-pr-3b")).toBe("shop-pr-3b");
    expect(appNameFromRepo("pr-7-tools")).toBe("pr7-tools");
    expect(appNameFromRepo("a-production")).toBe("a-prod");
    expect(appNameFromRepo("production-site-pr-1-pr-2")).toBe("prod-site-pr1-pr2");
    expect(appNameFromRepo("productions")).toBe("productions");
    for (const name of ["shop-pr3", "a-prod", "productions", "pr-x"]) expect(reservedNamePart(name)).toBeUndefined();
    expect(reservedNamePart("a-production-b")).toBe("production");
    expect(reservedNamePart("shop-pr-12")).toBe("pr-12");
  });

  it("keeps the Docker names of two apps apart whatever their environments and parts are called", () => {
    // berth-<app>-<environment>-<part>: the app is what precedes the first part reading like an environment.
    // Without the rule, app a-production's pr-2 service db and app a's production service pr-2-db were one container.
    const owner = (docker: string) => /^berth-(.+?)-(?:production|pr-\d+)(?:-|$)/.exec(docker)?.[1];
    const words = ["a", "production", "pr", "2", "db", "pr-2", "web", "x-production", "shop"];
    let seed = 7;
    const pick = () => words[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % words.length]!;
    for (let i = 0; i < 500; i++) {
      const app = appNameFromRepo(`${pick()}-${pick()}-${pick()}`);
      const environment = i % 2 ? "production" : `pr-${i}`;
      expect(owner(`berth-${app}-${environment}-${pick()}-${pick()}`)).toBe(app);
      expect(owner(networkName(app, environment))).toBe(app);
    }
  });

  it("names hostnames, URLs, images, networks and containers", () => {
    expect(hostnameFor("shop", "production", "apps.example.com")).toBe("shop.apps.example.com");
    expect(hostnameFor("shop", "pr-12", "apps.example.com")).toBe("shop-pr-12.apps.example.com");
    expect(publicUrl("shop.localhost", false, 80, 443)).toBe("http://shop.localhost");
    expect(publicUrl("shop.localhost", false, 8080, 443)).toBe("http://shop.localhost:8080");
    expect(publicUrl("shop.example.com", true, 80, 443)).toBe("https://shop.example.com");
    expect(publicUrl("shop.example.com", true, 80, 8443)).toBe("https://shop.example.com:8443");
    expect(imageRef("shop", "abc", 42)).toBe("berth/shop:abc-42");
    expect(networkName("shop", "pr-3")).toBe("berth-shop-pr-3");
    expect(webContainerName("shop", "production", "0123456789", 5)).toBe("berth-shop-production-web-0123456-5");
  });
});
