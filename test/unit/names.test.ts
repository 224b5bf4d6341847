import { describe, expect, it } from "vitest";
import { appNameFromRepo, hostnameFor, imageRef, networkName, publicUrl, webContainerName } from "../../core/names.js";

describe("names", () => {
  it("makes repository names DNS-safe", () => {
    expect(appNameFromRepo("Hello-World")).toBe("hello-world");
    expect(appNameFromRepo("my_app.v2")).toBe("my-app-v2");
    expect(appNameFromRepo("--Weird__Name--")).toBe("weird-name");
    expect(appNameFromRepo("___")).toBe("app");
    expect(appNameFromRepo("a".repeat(60))).toBe("a".repeat(40));
    expect(appNameFromRepo("x".repeat(39) + "-y")).toBe("x".repeat(39));
  });

  it("never gives a repository a preview's hostname", () => {
    expect(appNameFromRepo("shop-PR-3")).toBe("shop-pr-3-app");
    expect(appNameFromRepo("shop-pr-3b")).toBe("shop-pr-3b");
    expect(appNameFromRepo(`${"s".repeat(33)}-pr-1234`)).toBe(`${"s".repeat(33)}-pr-app`);
  });

  it("names hostnames, URLs, images, networks and containers", () => {
    expect(hostnameFor("shop", "production", "apps.example.com")).toBe("shop.apps.example.com");
    expect(hostnameFor("shop", "pr-12", "apps.example.com")).toBe("shop-pr-12.apps.example.com");
    expect(publicUrl("shop.localhost", false, 80, 443)).toBe("http://shop.localhost");
    expect(publicUrl("shop.localhost", false, 8080, 443)).toBe("http://shop.localhost:8080");
    expect(publicUrl("shop.example.com", true, 80, 443)).toBe("https://shop.example.com");
    expect(publicUrl("shop.example.com", true, 80, 8443)).toBe("https://shop.example.com:8443");
    expect(imageRef("shop", "abc")).toBe("berth/shop:abc");
    expect(networkName("shop", "pr-3")).toBe("berth-shop-pr-3");
    expect(webContainerName("shop", "production", "0123456789", 5)).toBe("berth-shop-production-web-0123456-5");
  });
});
