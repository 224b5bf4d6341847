import { describe, expect, it } from "vitest";
import { choosePlacement, reservation, type Candidate } from "../../releaser/placement.js";
import { dataKept } from "../../server/move-api.js";
import { parseManifest } from "../../manifest/manifest.js";
import { errorOf } from "../support/manifest-error-of.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const server = (shown: string, memoryGiB: number, reservedGiB = 0, labels: Record<string, string> = {}, unreachable?: string): Candidate => ({
  server: shown === "local" ? "default" : shown,
  shown,
  labels,
  memoryBytes: memoryGiB * GiB,
  reservedBytes: reservedGiB * GiB,
  ...(unreachable ? { unreachable } : {}),
});
const manifest = (yaml: string) => parseManifest(yaml);

describe("choosePlacement", () => {
  it("takes the reachable server with the most unreserved memory, local on a tie", () => {
    expect(choosePlacement([server("local", 8, 6), server("a", 4), server("b", 8, 1)], undefined, "x")).toEqual({ server: "b" });
    expect(choosePlacement([server("local", 8), server("a", 8)], undefined, "x")).toEqual({ server: "default" });
    expect(choosePlacement([server("local", 1, 1), server("a", 16, 0, {}, "refused")], undefined, "x")).toEqual({ server: "default" });
  });

  it("keeps to the servers carrying the labels asked for, and names what each offers when none can", () => {
    const fleet = [server("local", 32), server("eu-1", 4, 0, { region: "eu" }), server("eu-2", 8, 6, { region: "eu" }), server("us", 64, 0, { region: "us" })];
    expect(choosePlacement(fleet, { labels: { region: "eu" } }, "x")).toEqual({ server: "eu-1" });
    const none = choosePlacement([server("local", 32), server("eu-1", 4, 0, { region: "eu" }, "cannot reach it")], { labels: { region: "eu" } }, "shop's production");
    expect(none).toEqual({ error: "No reachable server carrying region=eu can take shop's production. Servers: local (no labels); eu-1 (region=eu; unreachable: cannot reach it)." });
  });

  it("takes a named server even when it is full or down (its release then says why), and refuses an unknown one", () => {
    expect(choosePlacement([server("local", 32), server("small", 1, 4, {}, "down")], { server: "small", labels: {} }, "x")).toEqual({ server: "small" });
    expect(choosePlacement([server("local", 32)], { server: "local", labels: {} }, "x")).toEqual({ server: "default" });
    expect(choosePlacement([server("local", 32)], { server: "gone", labels: {} }, "x")).toMatchObject({ error: expect.stringContaining("server gone, which is not registered") });
    expect(choosePlacement([server("a", 8, 0, { region: "us" })], { server: "a", labels: { region: "eu" } }, "x")).toMatchObject({ error: expect.stringContaining("carries region=us") });
  });
});

describe("reservation", () => {
  it("counts what each container declares and the default for the others, processes by replicas", () => {
    expect(reservation(null)).toBe(256 * MiB);
    const m = manifest("web:\n  resources: { memory: 512M }\nprocesses:\n  worker:\n    command: [run]\n    replicas: 3\nservices:\n  db:\n    image: postgres:16\n");
    expect(reservation(m)).toBe(512 * MiB + 3 * 256 * MiB + 256 * MiB);
    expect(reservation(m, 100 * MiB)).toBe(512 * MiB + 3 * 100 * MiB + 100 * MiB);
  });
});

describe("berth.yaml placement", () => {
  it("reads a server or labels for production and for previews, and refuses what no server can be called", () => {
    expect(manifest("placement:\n  labels: { region: eu }\npreviews:\n  placement: { server: droid-1 }\n")).toMatchObject({ placement: { labels: { region: "eu" } }, previews: { placement: { server: "droid-1", labels: {} } } });
    expect(errorOf("placement:\n  server: ../etc\n")).toContain("expected a server's name");
    expect(errorOf("placement:\n  zone: eu\n")).toContain('unknown key "zone"');
  });
});

describe("dataKept", () => {
  it("names the volumes an environment keeps, which a move would leave behind", () => {
    expect(dataKept(manifest("web:\n  port: 8080\n"))).toEqual([]);
    expect(dataKept(manifest("volumes:\n  uploads: {}\n  pgdata: {}\nweb:\n  volumes: [uploads:/data]\nservices:\n  db:\n    image: postgres:16\n    volumes: [pgdata:/var/lib/postgresql/data]\n"))).toEqual(["pgdata", "uploads"]);
  });
});
