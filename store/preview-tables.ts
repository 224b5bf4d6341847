import type { Generated } from "kysely";

/** An environment's machine token for protected previews (migration 0022). */
export interface PreviewTokensTable {
  app_id: number;
  environment: string;
  token_hash: string;
  token_sealed: string;
  created_at: Generated<Date>;
}

/** A login ticket or the per-hostname session it became (migration 0022). */
export interface PreviewGrantsTable {
  id_hash: string;
  kind: "ticket" | "session";
  hostname: string;
  login: string;
  github_user_id: string | null;
  admin: Generated<boolean>;
  token_sealed: string | null;
  /** A ticket's path to return to on the preview's host. */
  next: string | null;
  created_at: Generated<Date>;
  expires_at: Date;
}
