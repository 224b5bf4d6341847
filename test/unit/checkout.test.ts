import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkout } from "../../builder/checkout.js";
import { UserError } from "../../core/errors.js";

describe("Checkout: every path a repository names stays inside it", () => {
  let root: string;
  let outside: string;
  let checkout: Checkout;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "berth-checkout-"));
    outside = mkdtempSync(join(tmpdir(), "berth-outside-"));
    writeFileSync(join(outside, "secret.env"), "WEBHOOK_SECRET=hunter2\n");
    mkdirSync(join(root, "app"));
    writeFileSync(join(root, "berth.yaml"), "name: shop\n");
    writeFileSync(join(root, "app", "Dockerfile"), "FROM scratch\n");
    writeFileSync(join(root, "big.txt"), "x".repeat(2048));
    symlinkSync("app/Dockerfile", join(root, "Dockerfile.link")); // inside: fine
    symlinkSync(join(outside, "secret.env"), join(root, "leak.conf"));
    symlinkSync("../../../../../../../../etc/hostname", join(root, "relative-leak"));
    symlinkSync("/dev/zero", join(root, "zero"));
    symlinkSync(outside, join(root, "outdir"));
    symlinkSync("loop-b", join(root, "loop-a"));
    symlinkSync("loop-a", join(root, "loop-b"));
    checkout = await Checkout.at(root);
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const reason = async (p: Promise<unknown>): Promise<string> => {
    const e = await p.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  };

  it("reads regular files and follows symlinks that stay inside", async () => {
    expect(await checkout.readText("berth.yaml", "berth.yaml")).toBe("name: shop\n");
    expect(await checkout.readText("Dockerfile.link", "build.dockerfile")).toBe("FROM scratch\n");
    expect(await checkout.resolve("app", "directory", "build.context")).toBe(join(checkout.root, "app"));
    expect(await checkout.resolve("app/../app/Dockerfile", "file", "build.dockerfile")).toBe(join(checkout.root, "app", "Dockerfile"));
  });

  it("answers undefined for what does not exist", async () => {
    expect(await checkout.readText("missing.yaml", "berth.yaml")).toBeUndefined();
    expect(await checkout.resolve("berth.yaml/below", "file", "x")).toBeUndefined();
  });

  it("refuses symlinks to host files, absolute or relative, naming the path", async () => {
    expect(await reason(checkout.readText("leak.conf", "services.db.files"))).toBe(
      "services.db.files: leak.conf leads outside the repository (through a symbolic link or ..); berth reads only files inside the checkout.",
    );
    expect(await reason(checkout.readText("relative-leak", "berth.yaml"))).toContain("relative-leak leads outside the repository");
  });

  it("refuses paths that climb out with .. or are absolute", async () => {
    expect(await reason(checkout.resolve("../../etc", "directory", "build.context"))).toContain("leads outside the repository");
    expect(await reason(checkout.resolve("/etc/hostname", "file", "build.dockerfile"))).toBe("build.dockerfile: /etc/hostname must be a path relative to the repository root.");
  });

  it("refuses devices, directories outside and link loops", async () => {
    expect(await reason(checkout.readText("zero", "berth.yaml"))).toContain("zero leads outside the repository");
    expect(await reason(checkout.resolve("outdir", "directory", "build.context"))).toContain("outdir leads outside the repository");
    expect(await reason(checkout.readText("loop-a", "berth.yaml"))).toBe("berth.yaml: loop-a is a symbolic link loop.");
  });

  it("refuses the wrong kind and files over the size bound", async () => {
    expect(await reason(checkout.readText("app", "services.web.files"))).toBe("services.web.files: app is not a regular file.");
    expect(await reason(checkout.resolve("berth.yaml", "directory", "build.context"))).toBe("build.context: berth.yaml is not a directory.");
    expect(await reason(checkout.readText("big.txt", "services.db.files", 1024))).toBe("services.db.files: big.txt is larger than 1 KiB.");
  });
});
