import type { Generated } from "kysely";

/** A terminal session into a container (migration 0023): who, where, when, how it ended. */
export interface ExecSessionsTable {
  id: Generated<string>;
  app_id: number;
  environment: string;
  container: string;
  process: string;
  server: string;
  who: string;
  /** The command's first word and its word count, never its arguments (they may hold secrets). */
  command: string;
  tty: boolean;
  started_at: Generated<Date>;
  ended_at: Date | null;
  exit_code: number | null;
  reason: string | null;
  bytes_in: string | null;
  bytes_out: string | null;
}
