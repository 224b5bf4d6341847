import { sql, type Kysely } from "kysely";

/**
 * Environments: production and one per pull request (preview), with what the reconciler needs to
 * converge them: open or gone, the head it should run, when it was last pushed, its sticky comment.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("environments")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("pr_number", "integer")
    .addColumn("state", "text", (c) => c.notNull().defaultTo("open"))
    .addColumn("head_sha", "text")
    .addColumn("head_repo", "text")
    .addColumn("fork", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("comment_id", "bigint")
    .addColumn("last_push_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("closed_at", "timestamptz")
    .addColumn("torn_down_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("environments_app_name", ["app_id", "name"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("environments").execute();
}
