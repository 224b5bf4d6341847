import { request } from "node:http";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ADMIN_TOKEN, startHarness, type Harness } from "../test/support/harness.js";

/**
 * The dashboard with 50 apps of 200 deployments each, seeded straight into berth's Postgres: time to
 * first byte and weight of the apps page (as the operator, and as a GitHub user whose 50 permission
 * lookups go to the local fake GitHub, cold and then cached) and of one app's page. Prints median and p95.
 */
const APPS = Number(process.env.BENCH_APPS ?? 50);
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
let h: Harness;

async function seed(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await insert(c);
  } finally {
    await c.end();
  }
}

async function insert(c: pg.Client): Promise<void> {
  await c.query(`insert into apps (name, repo_full_name, repo_id, installation_id, default_branch)
    select 'bench-' || i, 'octo-org/bench-' || i, 100000 + i, 77, 'main' from generate_series(1, $1::int) i`, [APPS]);
  // Per app: 200 deployments, production and 3 previews, the newest of each environment live, the rest replaced.
  await c.query(`insert into deployments (app_id, environment, sha, ref, clone_url, state, image, url, actor, created_at, started_at, built_at, finished_at, phases)
    select a.id, case when n % 10 < 7 then 'production' else 'pr-' || (n % 3 + 1) end, md5(a.id || '-' || n) || substr(md5(n::text), 1, 8),
      'refs/heads/main', 'https://github.com/x/y.git', 'replaced', 'berth/' || a.name || ':' || n, 'http://x.localhost', 'octocat',
      now() - (($1::int - n) || ' hours')::interval, now() - (($1::int - n) || ' hours')::interval + interval '2 seconds',
      now() - (($1::int - n) || ' hours')::interval + interval '40 seconds', now() - (($1::int - n) || ' hours')::interval + interval '50 seconds',
      '{"received": 1, "build_started": 2000, "build_done": 40000, "route_switched": 49000}'
    from apps a, generate_series(1, $1::int) n`, [DEPLOYMENTS]);
  await c.query(`update deployments d set state = 'live' where id in (select max(id) from deployments group by app_id, environment)`);
  await c.query(`insert into releases (deployment_id, app_id, environment, server, image, hostname, container_name, upstream, state, live_at)
    select d.id, d.app_id, d.environment, 'local', d.image, d.environment || '.localhost', 'c-' || d.id, 'c:8080', 'live', now() from deployments d where d.state = 'live'`);
  await c.query(`insert into environments (app_id, name, pr_number, state) select a.id, 'pr-' || n, n, 'open' from apps a, generate_series(1, 3) n`);
}

/** Time to the response's headers and to its last byte, and its body. */
function timed(path: string, cookie: string): Promise<{ ttfb: number; total: number; body: Buffer; status: number }> {
  const url = new URL(path, h.berth.url);
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = request(url, { headers: { cookie } }, (res) => {
      const ttfb = performance.now() - t;
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ ttfb, total: performance.now() - t, body: Buffer.concat(chunks), status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function measure(what: string, path: string, cookie: string, rounds = ROUNDS): Promise<void> {
  const ttfb: number[] = [];
  let body: Buffer = Buffer.alloc(0);
  for (let i = 0; i < rounds; i++) {
    const r = await timed(path, cookie);
    expect(r.status).toBe(200);
    ttfb.push(r.ttfb);
    body = r.body;
  }
  ttfb.sort((a, b) => a - b);
  const at = (q: number): string => ttfb[Math.min(ttfb.length - 1, Math.floor(q * ttfb.length))]!.toFixed(1);
  console.log(`${what}: ${body.length} bytes (${gzipSync(body).length} gzipped), time to first byte median ${at(0.5)} ms, p95 ${at(0.95)} ms (${rounds} requests)`);
}

/** The operator's session, through the sign-in form and its CSRF cookie. */
async function operatorCookie(): Promise<string> {
  const front = await fetch(`${h.berth.url}/`);
  const csrf = /name="csrf" value="([\w-]+)"/.exec(await front.text())![1]!;
  const res = await fetch(`${h.berth.url}/session`, { method: "POST", headers: { cookie: front.headers.get("set-cookie")!.split(";")[0]! }, body: new URLSearchParams({ token: ADMIN_TOKEN, csrf }), redirect: "manual" });
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

/** A GitHub user's session, through /login, the fake's authorize redirect and the callback, as a browser goes. */
async function userCookie(login: string): Promise<string> {
  h.github.people.signedIn = login;
  const start = await fetch(`${h.berth.url}/login`, { redirect: "manual" });
  const state = start.headers.get("set-cookie")!.split(";")[0]!;
  const back = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const done = await fetch(back.headers.get("location")!, { headers: { cookie: state }, redirect: "manual" });
  return done.headers.getSetCookie().find((c) => c.startsWith("berth_session="))!.split(";")[0]!;
}

beforeAll(async () => {
  h = await startHarness({}, 3);
  await seed(h.databaseUrl);
  const access: Record<string, "read"> = {};
  for (let i = 1; i <= APPS; i++) {
    h.github.repositories.set(`octo-org/bench-${i}`, { id: 100000 + i, defaultBranch: "main" });
    access[`octo-org/bench-${i}`] = "read";
  }
  h.github.people.addUser("reader", access);
});
afterAll(async () => {
  await h?.stop();
});

it(`renders the apps page of ${APPS} apps × ${DEPLOYMENTS} deployments fast`, async () => {
  const operator = await operatorCookie();
  const page = (await timed("/", operator)).body.toString();
  expect(page.match(/<tr data-app=/g)?.length).toBe(APPS);
  await measure("apps page, operator", "/", operator);
  const user = await userCookie("reader");
  await measure(`apps page, GitHub user, cold (${APPS} permission lookups)`, "/", user, 1);
  await measure("apps page, GitHub user, permissions cached", "/", user);
  await measure(`app page (last 50 of ${DEPLOYMENTS} deployments), operator`, "/apps/bench-1", operator);
  await measure("build queue, operator", "/queue", operator);
});
