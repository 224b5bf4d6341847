import { describe, expect, it } from "vitest";
import { expandReferences, formatReference, parseTemplate } from "../../manifest/references.js";
import { parseDuration, parseMemory } from "../../manifest/units.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["2s", 2000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["0s", 0],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "30", "5 m", "5M", "1w", "ms", "1.s", "2s3", "-1s", "1s ", "1.0.0s"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("parseMemory", () => {
  it.each<[string | number, number]>([
    ["512m", 536_870_912],
    ["1g", 1_073_741_824],
    ["256k", 262_144],
    ["1.5g", 1_610_612_736],
    ["512M", 536_870_912],
    ["512mb", 536_870_912],
    ["512 MiB", 536_870_912],
    ["1024b", 1024],
    ["1024", 1024],
    [1024, 1024],
    [0, 0],
  ])("reads %j as %i bytes", (value, bytes) => {
    expect(parseMemory(value)).toBe(bytes);
  });

  it.each<string | number>(["", "m", "1x", "1 g b", "-1m", 1.5, -1, "1e3"])("refuses %j", (value) => {
    expect(parseMemory(value)).toBeUndefined();
  });
});

describe("parseTemplate and expandReferences", () => {
  it("cuts a value into text and references", () => {
    expect(parseTemplate("postgres://u:${secret.DB_PASSWORD}@${service.db.host}:5432/x")).toEqual({
      parts: ["postgres://u:", { kind: "secret", name: "DB_PASSWORD" }, "@", { kind: "service-host", service: "db" }, ":5432/x"],
      problems: [],
    });
  });

  it("keeps $ literal except in ${, and reads $${ as a literal ${", () => {
    expect(parseTemplate("pa$$word $HOME $${secret.X} $")).toEqual({ parts: ["pa$$word $HOME ${secret.X} $"], problems: [] });
  });

  it("names references it does not know, and an unclosed ${", () => {
    expect(parseTemplate("${FOO} and ${service.db.port} and ${secret.A").problems).toEqual([
      "${FOO} is not a reference berth knows; use ${secret.NAME} or ${service.NAME.host}, or write $${FOO} to keep the text as it is",
      "${service.db.port} is not a reference berth knows; use ${secret.NAME} or ${service.NAME.host}, or write $${service.db.port} to keep the text as it is",
      '"${" is never closed with "}"; write "$${" for a literal "${"',
    ]);
  });

  it("expands references through the resolver, and refuses values with problems", () => {
    const resolve = (ref: Parameters<typeof formatReference>[0]): string => (ref.kind === "secret" ? `<${ref.name}>` : `${ref.service}.internal`);
    expect(expandReferences("a=${secret.A};h=${service.db.host};l=$${x}", resolve)).toBe("a=<A>;h=db.internal;l=${x}");
    expect(() => expandReferences("${nope}", resolve)).toThrow("${nope} is not a reference berth knows");
    expect(formatReference({ kind: "secret", name: "A" })).toBe("${secret.A}");
    expect(formatReference({ kind: "service-host", service: "db" })).toBe("${service.db.host}");
  });
});
