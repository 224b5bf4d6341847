import type { Db } from "./db.js";

/** A terminal session as it starts. */
export interface ExecSessionStart {
  appId: number;
  environment: string;
  container: string;
  process: string;
  server: string;
  who: string;
  command: string;
  tty: boolean;
}

/** Records a session's start; its id, for the end. */
export async function recordExecStart(db: Db, s: ExecSessionStart): Promise<string> {
  const row = await db
    .insertInto("exec_sessions")
    .values({ app_id: s.appId, environment: s.environment, container: s.container, process: s.process, server: s.server, who: s.who, command: s.command, tty: s.tty })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function recordExecEnd(db: Db, id: string, end: { reason: string; exitCode: number | null; bytesIn: number; bytesOut: number }): Promise<void> {
  await db
    .updateTable("exec_sessions")
    .set({ ended_at: new Date(), reason: end.reason, exit_code: end.exitCode, bytes_in: String(end.bytesIn), bytes_out: String(end.bytesOut) })
    .where("id", "=", id)
    .execute();
}

/** An app's latest terminal sessions, newest first. */
export async function recentExecSessions(db: Db, appId: number, limit = 10) {
  return db
    .selectFrom("exec_sessions")
    .select(["id", "environment", "container", "process", "server", "who", "command", "tty", "started_at", "ended_at", "exit_code", "reason"])
    .where("app_id", "=", appId)
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
}
