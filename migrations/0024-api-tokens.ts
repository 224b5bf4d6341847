import { sql, type Kysely } from "kysely";

/**
 * Per-user API tokens. Only the SHA-256 of a token is kept (a table dump opens nothing); the user's
 * GitHub token is sealed under a key derived from the API token itself, so berth can re-check the
 * user's permissions on GitHub only while the token is presented (its refresh token likewise, kept
 * when the App's user tokens expire). Revoking deletes the row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("api_tokens")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("github_user_id", "bigint", (c) => c.notNull())
    .addColumn("login", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("github_token_sealed", "text", (c) => c.notNull())
    .addColumn("github_refresh_sealed", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("api_tokens_user").on("api_tokens").column("github_user_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("api_tokens").execute();
}
