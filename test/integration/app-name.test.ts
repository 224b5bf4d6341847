import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyManifestName } from "../../store/app-names.js";
import { createDb, type App, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { UserError } from "../../core/errors.js";
import { publicName } from "../../core/names.js";
import { Sensitive } from "../../core/sensitive.js";
import { findAppByName, upsertApp } from "../../store/queries.js";
import { appFor } from "../../server/start-deployment.js";
import { freshDatabase } from "../support/services.js";

describe("app names from berth.yaml (Postgres)", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let alpha: App;
  let beta: App;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url));
    await migrate(db);
    alpha = await upsertApp(db, { name: "alpha", repoFullName: "o/alpha", repoId: "1", installationId: "1", defaultBranch: "main" });
    beta = await upsertApp(db, { name: "beta", repoFullName: "o/beta", repoId: "2", installationId: "1", defaultBranch: "main" });
  });

  afterAll(async () => {
    await db.destroy();
    await drop();
  });

  it("renames only the public name, and finds the app by either name", async () => {
    alpha = await applyManifestName(db, alpha, "shop");
    expect([alpha.name, alpha.public_name, publicName(alpha)]).toEqual(["alpha", "shop", "shop"]);
    expect((await findAppByName(db, "shop"))?.id).toBe(alpha.id);
    expect((await findAppByName(db, "alpha"))?.id).toBe(alpha.id); // Docker names and old scripts keep working
    expect(await applyManifestName(db, alpha, "shop")).toBe(alpha); // unchanged: no write
  });

  it("refuses a name another app holds, as its public or its first name", async () => {
    const err = await applyManifestName(db, beta, "shop").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe("name: shop in berth.yaml is already the name of o/alpha's app on this berth; choose another name. The app keeps its current name until then.");
    await expect(applyManifestName(db, beta, "alpha")).rejects.toThrow("name: alpha in berth.yaml is already the name of o/alpha's app");
  });

  it("gives a new repository a name no app holds, counting public names", async () => {
    const newcomer = await appFor(db, { id: 3, name: "shop", full_name: "other/shop", default_branch: "main", owner: { login: "other" } }, 9);
    expect(newcomer.name).toBe("other-shop");
  });

  it("lets exactly one of two apps racing for a free name have it", async () => {
    const results = await Promise.allSettled([applyManifestName(db, alpha, "store"), applyManifestName(db, beta, "store")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    // The loser hears why, as the user's error, not as a unique-index violation from Postgres.
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(UserError);
    // A new app named like a public name loses too: it gets another name.
    const [renamed, created] = await Promise.all([
      applyManifestName(db, (await findAppByName(db, "beta"))!, "delta").catch((e: unknown) => e),
      appFor(db, { id: 4, name: "delta", full_name: "third/delta", default_branch: "main", owner: { login: "third" } }, 9),
    ]);
    if (renamed instanceof Error) expect(renamed).toBeInstanceOf(UserError);
    else expect(created.name).not.toBe("delta");
    alpha = (await findAppByName(db, "alpha"))!;
  });

  it("takes the name back when berth.yaml drops name: or names the app by its first name", async () => {
    const renamed = await applyManifestName(db, alpha, "gamma");
    expect(renamed.public_name).toBe("gamma");
    const dropped = await applyManifestName(db, renamed, undefined);
    expect(dropped.public_name).toBeNull();
    const again = await applyManifestName(db, dropped, "gamma");
    expect(again.public_name).toBe("gamma");
    expect((await applyManifestName(db, again, "alpha")).public_name).toBeNull();
    expect((await findAppByName(db, "gamma"))).toBeUndefined();
  });
});
