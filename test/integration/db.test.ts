import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { migrations } from "../../migrations/index.js";
import { Sensitive } from "../../core/sensitive.js";
import { liveRoutes, recordDeployment, upsertApp } from "../../store/queries.js";
import { freshDatabase } from "../support/services.js";

describe("Postgres state", () => {
  let db: Db;
  let other: Db;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url));
    other = createDb(new Sensitive(fresh.url));
  });

  afterAll(async () => {
    await db.destroy();
    await other.destroy();
    await drop();
  });

  it("applies migrations once when several processes start together", async () => {
    const [a, b, c] = await Promise.all([migrate(db), migrate(other), migrate(db)]);
    // Every migration exactly once, in order, whichever process got the lock.
    expect([...a, ...b, ...c]).toEqual(Object.keys(migrations));
    expect(Object.keys(migrations)).toEqual([...Object.keys(migrations)].sort());
    const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public' order by 1`.execute(db);
    expect(tables.rows.map((r) => r.tablename)).toEqual(["api_tokens", "apps", "build_logs", "deployments", "domains", "environment_sleep", "environments", "exec_sessions", "github_reports", "kysely_migration", "kysely_migration_lock", "placements", "preview_grants", "preview_tokens", "releases", "secrets", "servers", "sessions", "webhook_deliveries"]);
  });

  it("records a delivery once and keeps the app's repository facts current", async () => {
    const app = await upsertApp(db, { name: "shop", repoFullName: "o/shop", repoId: "1", installationId: "5", defaultBranch: "main" });
    const input = { environment: "production", sha: "a".repeat(40), ref: "refs/heads/main", cloneUrl: "https://x/o/shop.git", deliveryId: "d-1" };
    expect(await recordDeployment(db, app.id, input)).toMatchObject({ state: "queued", sha: "a".repeat(40) });
    expect(await recordDeployment(db, app.id, input)).toBeUndefined();
    const renamed = await upsertApp(db, { name: "shop", repoFullName: "o/shop-renamed", repoId: "1", installationId: "6", defaultBranch: "trunk" });
    expect(renamed).toMatchObject({ id: app.id, repo_full_name: "o/shop-renamed", installation_id: "6", default_branch: "trunk" });
  });

  it("allows one live release per environment and derives routes from live releases only", async () => {
    const app = await upsertApp(db, { name: "blog", repoFullName: "o/blog", repoId: "2", installationId: "5", defaultBranch: "main" });
    const d = await recordDeployment(db, app.id, { environment: "production", sha: "b".repeat(40), ref: "r", cloneUrl: "u", deliveryId: "d-2" });
    const base = { deployment_id: d?.id ?? 0, app_id: app.id, environment: "production", server: "default", image: "i", hostname: "blog.localhost", container_name: "c" };
    await db.insertInto("releases").values({ ...base, state: "live", upstream: "10.0.0.2:80" }).execute();
    await db.insertInto("releases").values({ ...base, state: "stopped", upstream: "10.0.0.1:80" }).execute();
    await expect(db.insertInto("releases").values({ ...base, state: "live", upstream: "10.0.0.3:80" }).execute()).rejects.toThrow(/releases_one_live/);
    expect(await liveRoutes(db, "default")).toEqual([{ hostname: "blog.localhost", upstream: "10.0.0.2:80" }]);
  });
});
