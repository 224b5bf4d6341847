import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import pg from "pg";

/** Postgres server the tests use (scripts/deps.sh sets it up); each test file gets a fresh database in it. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? localDatabaseUrl();
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** The berth role scripts/deps.sh set up on this machine, with its generated password (berth:berth before it had one). */
function localDatabaseUrl(): string {
  let password = "berth";
  try {
    password = readFileSync("/var/lib/berth/pg-password", "utf8").trim() || password;
  } catch {
    // not set up by scripts/deps.sh yet
  }
  return `postgres://berth:${password}@127.0.0.1:5432/berth`;
}

export const uniqueName = (prefix: string): string => `${prefix}${randomBytes(3).toString("hex")}`;

/** Creates an empty database and returns its URL and a drop function. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = uniqueName("berth_test_");
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        // WITH (FORCE) ends the database's sessions, but a non-superuser may not end an autovacuum
        // worker that happens to be in it: that one finishes within moments, so try again.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`drop database if exists ${name} with (force)`);
            return;
          } catch (e) {
            if (attempt >= 20 || !/pg_signal_backend|being accessed by other users/.test((e as Error).message)) throw e;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

/** A Redis URL on a logical database of its own (1–15), so queues of concurrent suites never meet. */
export function redisUrlWithDb(db: number): string {
  const u = new URL(TEST_REDIS_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Polls until fn returns a truthy value or the time is up; returns that value. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const start = Date.now();
  let lastError: unknown;
  while (Date.now() - start < timeoutMs) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** GET through the ingress with a Host header, as a browser resolving the app's hostname would. */
export async function getVia(ingressPort: number, host: string, path = "/"): Promise<{ status: number; body: string }> {
  return getAt("127.0.0.1", ingressPort, host, path);
}

/** GET from a proxy at address:port for a hostname, with these headers besides Host. */
export async function getAt(address: string, port: number, host: string, path = "/", headers: Record<string, string> = {}, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address, port, path, headers: { ...headers, host }, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** A Redis logical database emptied for this suite (queues from an earlier, killed run must not leak in). */
export async function freshRedis(db: number): Promise<string> {
  const { Redis } = await import("ioredis");
  const url = redisUrlWithDb(db);
  const r = new Redis(url, { lazyConnect: true });
  await r.connect();
  await r.flushdb();
  r.disconnect();
  return url;
}
