import { sql, type Kysely } from "kysely";

/** Apps, deployments (one per commit and environment), their build logs and releases. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("apps")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("repo_full_name", "text", (c) => c.notNull())
    .addColumn("repo_id", "bigint", (c) => c.notNull().unique())
    .addColumn("installation_id", "bigint", (c) => c.notNull())
    .addColumn("default_branch", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("deployments")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) => c.notNull())
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("ref", "text", (c) => c.notNull())
    .addColumn("clone_url", "text", (c) => c.notNull())
    .addColumn("delivery_id", "text", (c) => c.unique())
    .addColumn("state", "text", (c) => c.notNull().defaultTo("queued"))
    .addColumn("error", "text")
    .addColumn("image", "text")
    .addColumn("url", "text")
    .addColumn("check_run_id", "bigint")
    .addColumn("github_deployment_id", "bigint")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("started_at", "timestamptz")
    .addColumn("built_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    .execute();
  await db.schema.createIndex("deployments_app_env").on("deployments").columns(["app_id", "environment", "id"]).execute();

  await db.schema
    .createTable("build_logs")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("deployment_id", "integer", (c) => c.notNull().references("deployments.id").onDelete("cascade"))
    .addColumn("chunk", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("build_logs_deployment").on("build_logs").columns(["deployment_id", "id"]).execute();

  await db.schema
    .createTable("releases")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("deployment_id", "integer", (c) => c.notNull().references("deployments.id").onDelete("cascade"))
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) => c.notNull())
    .addColumn("server", "text", (c) => c.notNull())
    .addColumn("image", "text", (c) => c.notNull())
    .addColumn("hostname", "text", (c) => c.notNull())
    .addColumn("container_id", "text")
    .addColumn("container_name", "text", (c) => c.notNull())
    .addColumn("upstream", "text")
    .addColumn("state", "text", (c) => c.notNull().defaultTo("starting"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("live_at", "timestamptz")
    .addColumn("stopped_at", "timestamptz")
    .execute();
  // At most one live release per app environment: the route table is derived from this.
  await sql`create unique index releases_one_live on releases (app_id, environment) where state = 'live'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ["releases", "build_logs", "deployments", "apps"]) await db.schema.dropTable(t).execute();
}
