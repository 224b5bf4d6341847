import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../core/secret-box.js";
import { Sensitive } from "../../core/sensitive.js";
import { createDb, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { hostAccesses, protectedHostnames, previewToken, previewTokenMatches, rotatePreviewToken } from "../../store/preview-access-store.js";
import { createPreviewSession, createTicket, findPreviewSession, MAX_OPEN_TICKETS_PER_USER, redeemTicket } from "../../store/preview-grant-store.js";
import { recordDeployment, upsertApp } from "../../store/queries.js";
import { freshDatabase } from "../support/services.js";

describe("protected previews in Postgres", () => {
  let db: Db;
  let drop: () => Promise<void>;
  const box = new SecretBox(new Sensitive("ab".repeat(32)));

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url));
    await migrate(db);
  });

  afterAll(async () => {
    await db.destroy();
    await drop();
  });

  it("derives each live hostname's access from the app's visibility and the release's manifest", async () => {
    const app = await upsertApp(db, { name: "shop", repoFullName: "o/shop", repoId: "1", installationId: "5", defaultBranch: "main", private: true });
    expect(app.private).toBe(true);
    // A later event that does not say keeps the visibility.
    expect((await upsertApp(db, { name: "shop", repoFullName: "o/shop", repoId: "1", installationId: "5", defaultBranch: "main" })).private).toBe(true);
    for (const [environment, hostname, manifest] of [["production", "shop.localhost", null], ["pr-1", "shop-pr-1.localhost", null], ["pr-2", "shop-pr-2.localhost", { previews: { access: "public" } }]] as const) {
      const d = await recordDeployment(db, app.id, { environment, sha: "a".repeat(40), ref: "r", cloneUrl: "u", deliveryId: `d-${environment}` });
      if (manifest) await db.updateTable("deployments").set({ manifest: JSON.stringify(manifest) }).where("id", "=", d!.id).execute();
      await db.insertInto("releases").values({ deployment_id: d!.id, app_id: app.id, environment, server: "default", image: "i", hostname, container_name: `c-${environment}`, state: "live", upstream: "c:80" }).execute();
    }
    const all = await hostAccesses(db);
    expect(Object.fromEntries(all.map((h) => [h.hostname, h.access]))).toEqual({ "shop.localhost": "public", "shop-pr-1.localhost": "github", "shop-pr-2.localhost": "public" });
    expect(await hostAccesses(db, { hostname: "shop-pr-1.localhost" })).toMatchObject([{ environment: "pr-1", repoFullName: "o/shop", access: "github" }]);
    expect(await hostAccesses(db, { hostname: "nobody.localhost" })).toEqual([]);
    // `access: github` protects production and its verified domains (an unverified one is not served at all).
    const production = await db.selectFrom("releases").select("deployment_id").where("environment", "=", "production").executeTakeFirstOrThrow();
    await db.updateTable("deployments").set({ manifest: JSON.stringify({ access: "github", previews: {} }) }).where("id", "=", production.deployment_id).execute();
    await db.insertInto("domains").values([{ app_id: app.id, name: "shop.example.com", verified: true }, { app_id: app.id, name: "wip.example.com" }]).execute();
    expect((await hostAccesses(db, { hostname: "shop.example.com" })).map((h) => [h.environment, h.access])).toEqual([["production", "github"]]);
    expect(await hostAccesses(db, { hostname: "wip.example.com" })).toEqual([]);
    expect((await hostAccesses(db, { hostname: "shop.localhost" }))[0]?.access).toBe("github");
    // A droid asks of its own routes' hostnames only, by hostname or verified domain.
    const among = await protectedHostnames(db, ["shop.example.com", "shop-pr-2.localhost", "nobody.localhost"]);
    expect([among.has("shop.example.com"), among.has("shop-pr-2.localhost"), among.has("nobody.localhost"), among.has("shop-pr-1.localhost")]).toEqual([true, false, false, false]);
    expect(await protectedHostnames(db, [])).toEqual(new Set());
    expect(await protectedHostnames(db)).toEqual(new Set(["shop.localhost", "shop.example.com", "shop-pr-1.localhost"]));
  });

  it("redeems a ticket once, for its hostname only, and keeps sessions per hostname", async () => {
    const ticket = { idHash: "t1", hostname: "shop-pr-1.localhost", login: "alice", githubUserId: "7", next: "/x", ttlMs: 60_000 };
    expect(await createTicket(db, ticket)).toBe(true);
    expect(await redeemTicket(db, "t1", "shop-pr-2.localhost")).toBeUndefined();
    expect(await redeemTicket(db, "t1", "shop-pr-1.localhost")).toMatchObject({ login: "alice", github_user_id: "7", next: "/x" });
    expect(await redeemTicket(db, "t1", "shop-pr-1.localhost")).toBeUndefined();
    expect(await createTicket(db, { ...ticket, idHash: "t2", ttlMs: -1 })).toBe(true);
    expect(await redeemTicket(db, "t2", "shop-pr-1.localhost")).toBeUndefined();
    await createPreviewSession(db, { idHash: "s1", hostname: "shop-pr-1.localhost", login: "alice", ttlMs: 60_000 });
    expect(await findPreviewSession(db, "s1", "shop-pr-1.localhost")).toMatchObject({ login: "alice" });
    expect(await findPreviewSession(db, "s1", "shop-pr-2.localhost")).toBeUndefined();
  });

  it("bounds the login tickets one user may have open, leaving others theirs", async () => {
    const t = (login: string, n: number) => ({ idHash: `${login}-${n}`, hostname: "shop-pr-1.localhost", login, ttlMs: 60_000 });
    for (let n = 0; n < MAX_OPEN_TICKETS_PER_USER; n++) expect(await createTicket(db, t("mallory", n))).toBe(true);
    expect(await createTicket(db, t("mallory", 99))).toBe(false);
    expect(await createTicket(db, t("carol", 0))).toBe(true);
  });

  it("keeps one machine token per environment, shows it again, and rotates it", async () => {
    const app = (await db.selectFrom("apps").select("id").executeTakeFirstOrThrow()).id;
    const first = (await previewToken(db, box, app, "pr-1")).token.unwrap();
    expect(first).toMatch(/^bpt_[A-Za-z0-9_-]{43}$/);
    expect((await previewToken(db, box, app, "pr-1")).token.unwrap()).toBe(first);
    expect(await previewTokenMatches(db, app, "pr-1", first)).toBe(true);
    expect(await previewTokenMatches(db, app, "pr-2", first)).toBe(false);
    expect(await previewTokenMatches(db, app, "pr-1", `${first.slice(0, -1)}${first.endsWith("A") ? "B" : "A"}`)).toBe(false);
    const second = (await rotatePreviewToken(db, box, app, "pr-1")).token.unwrap();
    expect(await previewTokenMatches(db, app, "pr-1", first)).toBe(false);
    expect(await previewTokenMatches(db, app, "pr-1", second)).toBe(true);
    const stored = await db.selectFrom("preview_tokens").selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(second);
  });
});
