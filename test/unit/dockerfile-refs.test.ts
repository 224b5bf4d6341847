import { describe, expect, it } from "vitest";
import { imageReferences } from "../../builder/dockerfile-refs.js";
import { foreignImage } from "../../core/names.js";

describe("imageReferences", () => {
  it("lists FROM, COPY --from and RUN --mount from= images, leaving stages and scratch out", () => {
    const dockerfile = [
      "# syntax=docker/dockerfile:1",
      "FROM --platform=linux/amd64 node:20 AS deps",
      "RUN npm ci",
      "from scratch",
      "FROM deps",
      "COPY --from=deps /app /app",
      "COPY --from=berth/other:abc /secret /secret",
      "RUN --mount=type=cache,from=redis:7,target=/x \\",
      "    true",
      "COPY --from=0 /a /b",
    ].join("\n");
    expect(imageReferences(dockerfile, {})).toEqual([
      { ref: "node:20", line: 2 },
      { ref: "berth/other:abc", line: 7 },
      { ref: "redis:7", line: 8 },
    ]);
  });

  it("substitutes ARG defaults and build args the way Docker does in FROM", () => {
    const dockerfile = ['ARG BASE="berth/other:1"', "ARG TAG", "ARG ALT", "FROM ${BASE}", "FROM node:${TAG:-20}", "FROM $ALT", "FROM x${ALT:+-y}"].join("\n");
    expect(imageReferences(dockerfile, {}).map((r) => r.ref)).toEqual(["berth/other:1", "node:20", "", "x"]);
    expect(imageReferences(dockerfile, { TAG: "22", ALT: "berth/third:2" }).map((r) => r.ref)).toEqual(["berth/other:1", "node:22", "berth/third:2", "x-y"]);
  });
});

describe("foreignImage", () => {
  it("refuses other apps' berth images in every spelling, and bare image ids", () => {
    expect(foreignImage("berth/other:abc", "shop")).toBe("another app's image (berth/other)");
    expect(foreignImage("docker.io/berth/other:abc", "shop")).toBe("another app's image (berth/other)");
    expect(foreignImage("index.docker.io/BERTH/other", "shop")).toBe("another app's image (berth/other)");
    expect(foreignImage("sha256:" + "a".repeat(64), "shop")).toContain("an image id");
    expect(foreignImage("0123456789ab", "shop")).toContain("an image id");
  });

  it("refuses every berth image as a service, which runs public images", () => {
    expect(foreignImage("berth/shop:abc")).toBe("an app's build (berth/shop); services run public images");
    expect(foreignImage("postgres:16")).toBeUndefined();
  });

  it("lets an app build on public images and its own", () => {
    for (const ref of ["node:20", "berth/shop:abc", "ghcr.io/berth/other:1", "postgres@sha256:" + "b".repeat(64), "berthold/x"]) expect(foreignImage(ref, "shop")).toBeUndefined();
  });
});
