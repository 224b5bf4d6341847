import { execFileSync } from "node:child_process";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBerth, type BerthProcess } from "../support/berth-process.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { freePort, freshDatabase, freshRedis } from "../support/services.js";

/** berth's node process's resident memory, in MiB. */
function rssMiB(berth: BerthProcess): number {
  const lines = execFileSync("ps", ["-o", "rss=,args=", "-g", String(berth.child.pid)], { encoding: "utf8" }).trim().split("\n");
  const main = lines.find((l) => /^\s*\d+\s+node\b.*dist\/server\/main\.js/.test(l));
  return Number(main?.trim().split(/\s+/)[0] ?? 0) / 1024;
}

/**
 * POSTs `total` bytes in 1 MiB chunks to the webhook path over a raw socket, so the answer is read
 * even when berth closes the connection mid-body; resolves berth's status (0 for none) and how many
 * bytes went out before it answered.
 */
function bigPost(url: string, total: number, headers: Record<string, string>): Promise<{ status: number; sent: number; answer: string }> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let sent = 0;
    let answer = "";
    const socket = net.connect(Number(port), "127.0.0.1", () => {
      const head = Object.entries({ host: "berth", "content-type": "application/json", ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.write(`POST /api/github/webhooks HTTP/1.1\r\n${head}${headers["content-length"] ? "" : "transfer-encoding: chunked\r\n"}\r\n`);
      const chunked = !headers["content-length"];
      const pump = (): void => {
        while (!answer && sent < total && !socket.destroyed) {
          sent += chunk.length;
          const ok = socket.write(chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk);
          if (!ok) return void socket.once("drain", pump);
        }
      };
      pump();
    });
    socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), sent, answer: answer.slice(0, 200) }));
  });
}

describe("hostile requests, end to end", () => {
  let h: Harness;
  const gh = { "x-github-event": "push", "x-github-delivery": "hostile-1", "x-hub-signature-256": `sha256=${"0".repeat(64)}` };

  beforeAll(async () => {
    h = await startHarness({}, 14);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("refuses a 256 MiB unsigned body before reading it, and berth does not grow", async () => {
    const before = rssMiB(h.berth);
    const declared = await bigPost(h.berth.url, 256 << 20, { "content-length": String(256 << 20) });
    expect(declared.status, JSON.stringify(declared)).toBe(400); // no signature header: not a GitHub delivery
    const streamed = await bigPost(h.berth.url, 256 << 20, {});
    expect(streamed.status, JSON.stringify(streamed)).toBe(400);
    const grown = rssMiB(h.berth) - before;
    console.log(`RSS growth while refusing two unsigned 256 MiB bodies: ${grown.toFixed(1)} MiB (before ${before.toFixed(1)} MiB)`);
    expect(grown).toBeLessThan(32);
    expect((await fetch(`${h.berth.url}/healthz`)).status).toBe(200);
  });

  it("refuses a signed-looking body over GitHub's 25 MB cap with 413, by its length or while it streams", async () => {
    const before = rssMiB(h.berth);
    const declared = await bigPost(h.berth.url, 256 << 20, { ...gh, "content-length": String(256 << 20) });
    expect(declared.status, JSON.stringify(declared)).toBe(413);
    expect(declared.sent).toBeLessThan(256 << 20); // answered long before the body could have been sent
    const streamed = await bigPost(h.berth.url, 64 << 20, gh);
    expect(streamed.status, JSON.stringify(streamed)).toBe(413);
    const grown = rssMiB(h.berth) - before;
    console.log(`RSS growth while refusing a 256 MiB declared and a 64 MiB chunked body: ${grown.toFixed(1)} MiB`);
    expect(grown).toBeLessThan(80); // at most one capped body (25 MiB) is held, and only until the 413
  });

  it("closes a connection that trickles its headers", async () => {
    const port = Number(new URL(h.berth.url).port);
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write("POST /api/github/webhooks HTTP/1.1\r\nHost: x\r\n"));
      const timer = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 1000);
      socket.on("close", () => {
        clearInterval(timer);
        resolve(Date.now() - started);
      });
      socket.on("error", () => undefined);
      socket.resume();
    });
    expect(closed).toBeLessThan(20_000); // the server's headers timeout (10 s), not never
  });

  it("never takes the admin token from a URL; signs in through a form (with its CSRF cookie) into an HttpOnly session cookie", async () => {
    const front = await fetch(`${h.berth.url}/?token=${ADMIN_TOKEN}`);
    const inUrl = await front.text();
    expect(inUrl).toContain('name="token"'); // still the sign-in form, no app list
    expect(inUrl).not.toContain(h.app);
    const csrf = /name="csrf" value="([\w-]+)"/.exec(inUrl)?.[1] ?? "";
    const csrfCookie = (front.headers.get("set-cookie") ?? "").split(";")[0]!;
    expect(csrfCookie).toBe(`berth_login_csrf=${csrf}`);
    const post = (form: Record<string, string>, cookie = csrfCookie) => fetch(`${h.berth.url}/session`, { method: "POST", headers: { cookie }, body: new URLSearchParams(form), redirect: "manual" });
    expect((await post({ token: ADMIN_TOKEN })).status).toBe(403); // no CSRF token: a login forced by another site
    expect((await post({ token: ADMIN_TOKEN, csrf }, "")).status).toBe(403); // the form alone is not enough
    expect((await post({ token: "nope", csrf })).status).toBe(401);
    const ok = await post({ token: ADMIN_TOKEN, csrf });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^berth_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect(cookie).not.toContain(ADMIN_TOKEN);
    const page = await (await fetch(`${h.berth.url}/`, { headers: { cookie: cookie.split(";")[0]! } })).text();
    expect(page).toContain("Log out");
    // The session cookie opens pages, not the API: that takes the bearer token.
    expect((await fetch(`${h.berth.url}/api/v1/apps`, { headers: { cookie: cookie.split(";")[0]! } })).status).toBe(401);
  });
});

describe("/setup before an App is configured, end to end", () => {
  let berth: BerthProcess;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    berth = await startBerth({ APP_ID: "", PRIVATE_KEY: "", PRIVATE_KEY_PATH: "", WEBHOOK_SECRET: "", DATABASE_URL: db.url, REDIS_URL: await freshRedis(15), BERTH_INSTANCE: "berth-e2e-setup", LOG_LEVEL: "info" }, await freePort());
  });

  afterAll(async () => {
    await berth?.stop();
    await drop?.();
  });

  it("asks for the one-time code from berth's log before it hands out the registration", async () => {
    const code = /setup code ([0-9a-f]{16})/.exec(berth.output())?.[1];
    expect(code).toBeDefined();
    const page = await (await fetch(`${berth.url}/setup`)).text();
    expect(page).toContain('name="code"');
    expect(page).not.toContain("settings/apps/new"); // no state, no manifest form for a stranger
    const wrong = await fetch(`${berth.url}/setup`, { method: "POST", body: new URLSearchParams({ code: "0".repeat(16) }) });
    expect(wrong.status).toBe(403);
    const right = await fetch(`${berth.url}/setup`, { method: "POST", body: new URLSearchParams({ code: code! }) });
    expect(right.status).toBe(200);
    expect(await right.text()).toMatch(/settings\/apps\/new\?state=[0-9a-f]{32}/);
    expect((await fetch(`${berth.url}/setup/callback?code=abc&state=${"0".repeat(32)}`)).status).toBe(403);
  });

  it("locks after ten wrong codes until restarted", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await fetch(`${berth.url}/setup`, { method: "POST", body: new URLSearchParams({ code: `wrong-${i}` }) })).status);
    expect(statuses.at(-1)).toBe(429);
    const code = /setup code ([0-9a-f]{16})/.exec(berth.output())?.[1];
    expect((await fetch(`${berth.url}/setup`, { method: "POST", body: new URLSearchParams({ code: code! }) })).status).toBe(429);
  });
});
