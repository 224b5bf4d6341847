import { sql, type Kysely } from "kysely";

/**
 * Secrets get a scope: a production value and optionally a value for previews. Code a fork's author
 * or a bot wrote gets only preview values, so environments remember whether a bot opened the PR.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("scope", "text", (c) => c.notNull().defaultTo("production")).execute();
  await db.schema.alterTable("secrets").dropConstraint("secrets_app_name").execute();
  await db.schema.alterTable("secrets").addUniqueConstraint("secrets_app_name_scope", ["app_id", "name", "scope"]).execute();
  await sql`alter table secrets add constraint secrets_scope check (scope in ('production', 'previews'))`.execute(db);
  await db.schema.alterTable("environments").addColumn("author_bot", "boolean", (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("environments").dropColumn("author_bot").execute();
  await db.deleteFrom("secrets" as never).where("scope" as never, "=", "previews" as never).execute();
  await db.schema.alterTable("secrets").dropConstraint("secrets_app_name_scope").execute();
  await db.schema.alterTable("secrets").dropConstraint("secrets_scope").execute();
  await db.schema.alterTable("secrets").dropColumn("scope").execute();
  await db.schema.alterTable("secrets").addUniqueConstraint("secrets_app_name", ["app_id", "name"]).execute();
}
