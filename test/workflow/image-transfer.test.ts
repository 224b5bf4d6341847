import { describe, expect, it } from "vitest";
import { transferImage } from "../../releaser/image-transfer.js";
import { FakeDockerHost, type FakeImage } from "../support/fakes/fake-docker-host.js";

const REF = "berth/shop:0123456789abcdef0123456789abcdef01234567";

/** A builder with the image and a droid without it, sharing one fake registry. */
function servers(): { builder: FakeDockerHost; droid: FakeDockerHost } {
  const registry = new Map<string, FakeImage>();
  const builder = new FakeDockerHost("builder", registry);
  builder.addImage(REF, { labels: { "berth.app": "shop" }, exposedPorts: { "8080/tcp": {} } });
  return { builder, droid: new FakeDockerHost("droid1", registry) };
}

describe("transferImage", () => {
  it("does nothing when the target is the builder or has the image", async () => {
    const { builder, droid } = servers();
    expect(await transferImage(REF, builder, builder)).toEqual({ via: "present" });
    droid.addImage(REF);
    expect(await transferImage(REF, builder, droid, { registry: "registry.example.com" })).toEqual({ via: "present" });
    expect([builder.pushes, droid.pulls, droid.loads]).toEqual([[], [], []]);
  });

  it("goes through the registry under its name, leaving only the image's own name on both sides", async () => {
    const { builder, droid } = servers();
    const as = `registry.example.com:5000/berth/${REF}`;
    expect(await transferImage(REF, builder, droid, { registry: "registry.example.com:5000/berth/" })).toEqual({ via: "registry", as });
    expect(builder.pushes).toEqual([as]);
    expect(droid.pulls).toEqual([as]);
    expect([...droid.images.keys()]).toEqual([REF]);
    expect(droid.images.get(REF)?.labels).toEqual({ "berth.app": "shop" });
    expect([...builder.images.keys()]).toEqual([REF]);
  });

  it("streams it without a registry, and moves one image once when asked twice at a time", async () => {
    const { builder, droid } = servers();
    const [a, b] = await Promise.all([transferImage(REF, builder, droid), transferImage(REF, builder, droid)]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ via: "stream", skipped: 0 });
    expect(droid.loads).toEqual([REF]);
    expect(droid.images.get(REF)?.exposedPorts).toEqual({ "8080/tcp": {} });
  });

  it("names both servers when it fails, and untags the registry name it made", async () => {
    const { builder, droid } = servers();
    builder.pushImage = async () => {
      throw new Error("connection refused");
    };
    await expect(transferImage(REF, builder, droid, { registry: "registry.example.com" })).rejects.toThrow(
      `moving image ${REF} from server builder to droid1 failed: connection refused`,
    );
    expect([...builder.images.keys()]).toEqual([REF]);
    await expect(transferImage("berth/missing:1", builder, droid)).rejects.toThrow("moving image berth/missing:1 from server builder to droid1 failed: berth/missing:1 is not on builder");
  });
});
