import type { Generated } from "kysely";

/** A dashboard session (migration 0019). */
export interface SessionsTable {
  id_hash: string;
  login: string;
  github_user_id: string | null;
  /** Signed in with BERTH_API_TOKEN: sees and does everything, has no GitHub token. */
  admin: Generated<boolean>;
  token_sealed: string | null;
  created_at: Generated<Date>;
  expires_at: Date;
}

/** A person's own API token (migration 0024): its hash, and their GitHub grant sealed under it. */
export interface ApiTokensTable {
  id: Generated<number>;
  token_hash: string;
  github_user_id: string;
  login: string;
  name: string;
  github_token_sealed: string;
  github_refresh_sealed: string | null;
  created_at: Generated<Date>;
  last_used_at: Date | null;
}
