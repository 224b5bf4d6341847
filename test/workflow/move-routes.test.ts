import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { Sensitive } from "../../core/sensitive.js";
import type { Db, Release } from "../../store/db.js";
import { recordDeployment, upsertApp } from "../../store/queries.js";
import { IngressProxy } from "../../releaser/ingress-proxy.js";
import { CADDYFILE_PATH, PROXY_CONTAINER } from "../../releaser/proxy-plan.js";
import { recordRelease, switchLive } from "../../releaser/release/state.js";
import { finishDrains } from "../../releaser/finish-drains.js";
import { applyRoutes, ensureProxy, type FrontDoor } from "../../releaser/routes.js";
import { FakeDockerHost } from "../support/fakes/fake-docker-host.js";
import { dropDatabases, openDatabase, PROXY_IMAGE } from "../support/workflow-world.js";

// A move between servers switches the live release in Postgres first and reloads the front door after.
// Whatever applies the old server's routes in between (a reconciler pass, another app's release) must
// leave it serving what the front door still sends it.
describe("routes while an environment moves between servers", () => {
  const log = createLogger("silent");
  let db: Db;
  let close: () => Promise<void>;
  let local: FakeDockerHost;
  let droid: FakeDockerHost;
  let door: FrontDoor;
  const droidProxy = () => ({ db, host: droid, proxy: new IngressProxy(droid, { image: PROXY_IMAGE, httpPort: 80, httpsPort: 443 }, false, log, true), frontDoor: door });
  const caddyfile = (host: FakeDockerHost): string => host.find(PROXY_CONTAINER)?.files.get(CADDYFILE_PATH) ?? "";
  /** The site block a Caddyfile has for a hostname, or undefined. */
  const site = (text: string, hostname: string): string | undefined => new RegExp(`http://${hostname.replace(/\./g, "\\.")} \\{[^]*?\\n\\}`).exec(text)?.[0];

  beforeEach(async () => {
    ({ db, close } = await openDatabase());
    local = new FakeDockerHost("local");
    droid = new FakeDockerHost("droid-eu");
    for (const h of [local, droid]) h.addImage(PROXY_IMAGE);
    door = { host: local, proxy: new IngressProxy(local, { image: PROXY_IMAGE, httpPort: 80, httpsPort: 443 }, false, log), ingressOf: async (s) => (s === "droid-eu" ? { address: "10.252.0.2:80", key: new Sensitive("ab".repeat(32)) } : undefined) };
    for (const deps of [{ db, host: local, proxy: door.proxy, frontDoor: door }, droidProxy()]) await ensureProxy(deps);
  });
  afterEach(async () => {
    await close();
  });
  afterAll(dropDatabases);

  /** The app and a way to record its nth deployment (a release needs one). */
  const shop = async () => {
    const app = await upsertApp(db, { name: "shop", repoFullName: "acme/shop", repoId: "1", installationId: "9", defaultBranch: "main" });
    const deployment = async (n: number) =>
      (await recordDeployment(db, app.id, { environment: "production", sha: String(n).repeat(40), ref: "refs/heads/main", cloneUrl: "https://github.com/acme/shop.git", deliveryId: `d${n}` }))!;
    return { app, deployment };
  };
  const release = async (appId: number, deploymentId: number, server: string, container: string, hostname = "shop.berth.test"): Promise<Release> =>
    recordRelease(db, { deployment_id: deploymentId, app_id: appId, environment: "production", server, image: "img", hostname, container_id: container, container_name: container });

  it("keeps the old server routing a moved hostname until its drain, and the front door sends it to the new one", async () => {
    const { app, deployment } = await shop();
    const onDroid = await release(app.id, (await deployment(1)).id, "droid-eu", "shop-production-1");
    await switchLive(db, onDroid, undefined, "shop-production-1:8080", []);
    await applyRoutes(droidProxy());
    expect(site(caddyfile(droid), "shop.berth.test")).toContain("reverse_proxy shop-production-1:8080");
    expect(site(caddyfile(local), "shop.berth.test")).toContain("reverse_proxy 10.252.0.2:80");

    // The move: live on local now, the droid's release draining; the front door not reloaded yet when
    // the droid's routes are applied again.
    const onLocal = await release(app.id, (await deployment(2)).id, "local", "shop-production-2");
    await switchLive(db, onLocal, onDroid, "shop-production-2:8080", []);
    await applyRoutes({ ...droidProxy(), frontDoor: undefined });
    expect(site(caddyfile(droid), "shop.berth.test")).toContain("reverse_proxy shop-production-1:8080");
    await applyRoutes({ db, host: local, proxy: door.proxy, frontDoor: door });
    const front = caddyfile(local);
    expect(site(front, "shop.berth.test")).toContain("reverse_proxy shop-production-2:8080");
    expect(front.match(/http:\/\/shop\.berth\.test \{/g)).toHaveLength(1);

    // Drained: the droid's release is replaced and its route goes.
    await db.updateTable("releases").set({ state: "stopped" }).where("id", "=", onDroid.id).execute();
    await applyRoutes(droidProxy());
    expect(site(caddyfile(droid), "shop.berth.test")).toBeUndefined();
  });

  it("never routes a hostname to a drain on the front door while it is live on another server", async () => {
    const { app, deployment } = await shop();
    const onLocal = await release(app.id, (await deployment(1)).id, "local", "shop-production-1");
    await switchLive(db, onLocal, undefined, "shop-production-1:8080", []);
    const onDroid = await release(app.id, (await deployment(2)).id, "droid-eu", "shop-production-2");
    await switchLive(db, onDroid, onLocal, "shop-production-2:8080", []);
    await applyRoutes(droidProxy());
    const front = caddyfile(local);
    expect(site(front, "shop.berth.test")).toContain("reverse_proxy 10.252.0.2:80");
    expect(front.match(/http:\/\/shop\.berth\.test \{/g)).toHaveLength(1);
  });

  it("drops a renamed hostname at the switch: only a hostname live on another server is kept through a drain", async () => {
    const { app, deployment } = await shop();
    const before = await release(app.id, (await deployment(1)).id, "droid-eu", "shop-production-1");
    await switchLive(db, before, undefined, "shop-production-1:8080", []);
    const renamed = await release(app.id, (await deployment(2)).id, "droid-eu", "store-production-2", "store.berth.test");
    await switchLive(db, renamed, before, "store-production-2:8080", []);
    await applyRoutes(droidProxy());
    expect(site(caddyfile(droid), "shop.berth.test")).toBeUndefined();
    expect(site(caddyfile(droid), "store.berth.test")).toContain("reverse_proxy store-production-2:8080");
    expect(site(caddyfile(local), "shop.berth.test")).toBeUndefined();
  });

  it("finishes a move's drain that berth's restart cut short: the old server loses the container, the network and the route", async () => {
    const { app, deployment } = await shop();
    const labels = { "berth.managed": "true", "berth.app": "shop", "berth.environment": "production" };
    droid.addImage("img");
    await droid.ensureNetwork("berth-shop-production", labels);
    const container = await droid.createContainer({ name: "shop-production-1", Image: "img", Labels: labels, HostConfig: { NetworkMode: "berth-shop-production" } });
    await droid.startContainer(container);
    const onDroid = await release(app.id, (await deployment(1)).id, "droid-eu", container);
    await switchLive(db, onDroid, undefined, `${container}:8080`, []);
    const onLocal = await release(app.id, (await deployment(2)).id, "local", "shop-production-2");
    await switchLive(db, onLocal, onDroid, "shop-production-2:8080", []); // then berth died: no drain ran
    await applyRoutes(droidProxy());
    expect(site(caddyfile(droid), "shop.berth.test")).toBeDefined();

    expect(await finishDrains({ ...droidProxy(), log })).toEqual([container]);

    expect(droid.find(container)).toBeUndefined();
    expect((await droid.listManaged({ "berth.app": "shop" })).networks).toEqual([]);
    expect(site(caddyfile(droid), "shop.berth.test")).toBeUndefined();
    expect(site(caddyfile(local), "shop.berth.test")).toContain("reverse_proxy shop-production-2:8080");
  });
});
