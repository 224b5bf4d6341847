import { sql, type Kysely } from "kysely";

/**
 * Protected previews (issue 15). `apps.private` is the repository's visibility as GitHub last said it
 * (a private repository's previews need a GitHub login by default; null: not known yet, as private). `preview_tokens` holds each
 * environment's machine token, sealed under BERTH_SECRET_KEY (shown again to writers) and hashed (what
 * a request is compared with). `preview_grants` holds the single-use login tickets (kind `ticket`,
 * about a minute) and the per-hostname sessions they become (kind `session`): keyed by the SHA-256 of
 * the random value only the browser holds, with the user's GitHub token sealed under that value.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Null until GitHub said (a push, a pull request, the installation, or the reconciler asking): an
  // app from before this migration is treated as private until then, never as public by default.
  await db.schema.alterTable("apps").addColumn("private", "boolean").execute();
  await db.schema
    .createTable("preview_tokens")
    .addColumn("app_id", "integer", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull())
    .addColumn("token_sealed", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("preview_tokens_pk", ["app_id", "environment"])
    .execute();
  await db.schema
    .createTable("preview_grants")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("hostname", "text", (c) => c.notNull())
    .addColumn("login", "text", (c) => c.notNull())
    .addColumn("github_user_id", "bigint")
    .addColumn("admin", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("token_sealed", "text")
    .addColumn("next", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("preview_grants_kind_expires").on("preview_grants").columns(["kind", "expires_at"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("preview_grants").execute();
  await db.schema.dropTable("preview_tokens").execute();
  await db.schema.alterTable("apps").dropColumn("private").execute();
}
