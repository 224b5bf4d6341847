import { sql, type Kysely } from "kysely";

/**
 * The outbox of GitHub reports. A report is written here where berth used to queue it in memory, so a
 * restart (or a SIGKILL) loses none, and a sender sends it. `subject` names the GitHub object a report
 * sets (a deployment's check run, its Deployment status, a PR's comment): a newer report of a subject
 * replaces an unsent older one. `chain` orders: a chain's reports go out one at a time, oldest first.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("github_reports")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("chain", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("report", "jsonb", (c) => c.notNull())
    // GitHub paces each installation's writes: a process sends one report per installation at a time
    // and picks the chain whose most urgent report matters most (0: a deployment's outcome).
    .addColumn("installation", "text", (c) => c.notNull())
    .addColumn("priority", "smallint", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    // Epoch milliseconds of berth's clock, so tests move retries along with a fake clock.
    .addColumn("not_before", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("leased_by", "text")
    .addColumn("leased_until", "bigint")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index github_reports_chain on github_reports (chain, id)`.execute(db);
  await sql`create index github_reports_subject on github_reports (subject, id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("github_reports").execute();
}
