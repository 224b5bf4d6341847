import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sensitive } from "../../core/sensitive.js";
import { createDb } from "../../store/db.js";
import { freshDatabase, waitFor } from "../support/services.js";

describe("the Postgres pool", () => {
  let url: string;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ url, drop } = await freshDatabase());
  });
  afterAll(async () => drop());

  it("fails a query that waits longer than acquireTimeoutMs for a connection, and serves the next once one is free", async () => {
    const db = createDb(new Sensitive(url), 1, { acquireTimeoutMs: 200 });
    try {
      let release: (() => void) | undefined;
      const held = db.connection().execute(async (c) => {
        await sql`select 1`.execute(c);
        await new Promise<void>((r) => (release = r));
      });
      await waitFor("the only connection taken", () => release !== undefined, 5000, 10);
      const started = Date.now();
      await expect(sql`select 1`.execute(db)).rejects.toThrow("timeout exceeded when trying to connect");
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(190);
      expect(waited).toBeLessThan(2000);
      release?.();
      await held;
      expect((await sql<{ n: number }>`select 1 as n`.execute(db)).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.destroy();
    }
  });

  it("reports an idle connection's failure to onError instead of crashing the process", async () => {
    const errors: Error[] = [];
    const db = createDb(new Sensitive(url), 2, { onError: (err) => errors.push(err) });
    const admin = createDb(new Sensitive(url), 1);
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db); // now idle in the pool
      await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(admin);
      await waitFor("the pool's error event", () => errors.length > 0, 5000, 20);
      expect(errors[0]!.message).toMatch(/terminat/);
      expect((await sql<{ n: number }>`select 1 as n`.execute(db)).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.destroy();
      await admin.destroy();
    }
  });
});
