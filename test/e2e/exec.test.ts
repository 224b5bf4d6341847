import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { WebSocket } from "ws";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";
import { launchChromium, noBrowser, signIn } from "../support/browser.js";
import { execOnce, execUrl } from "../support/exec-client.js";
import pg from "pg";

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * A terminal into an app's containers: the exec WebSocket through the admin token, the dashboard's
 * xterm.js page in a real browser for a writer (a reader is refused), and `berth exec` from the built CLI.
 */
describe("exec into an environment's containers", () => {
  let h: Harness;
  let browser: Browser | undefined;
  const cli = (args: string[], input = "") =>
    spawnSync("node", ["dist/cli/berth.js", "exec", ...args], { encoding: "utf8", input, env: { ...process.env, BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: ADMIN_TOKEN }, timeout: 30_000 });

  beforeAll(async () => {
    h = await startHarness({}, 3);
    h.github.people.addUser("alice", { [`octo-org/${h.app}`]: "write" });
    h.github.people.addUser("bob", { [`octo-org/${h.app}`]: "read" });
    // The worker exits (code 4) on SIGTERM, so a `kill 1` through exec makes Docker restart it.
    const yaml = `processes:\n  worker: { command: "sh -c 'trap \\"exit 4\\" TERM; while true; do sleep 1; done'" }\n`;
    await h.push(h.repo.commit({ ...staticSite("exec me\n"), "berth.yaml": yaml }, "v1"), "0".repeat(40));
    await waitFor("served", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === "exec me\n", 120_000, 50);
    if (!noBrowser) browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("runs a command with the admin token: stdin piped in, stdout and stderr apart, the exit code back", async () => {
    const r = await execOnce(execUrl(h.berth.url, h.app, { tty: "false", cmd: ["sh", "-c", "cat; echo oops >&2; echo $BERTH_ENVIRONMENT; exit 3"] }), admin, "piped in\n");
    expect(r).toMatchObject({ status: 101, stdout: "piped in\nproduction\n", stderr: "oops\n", code: 3 });
    // A process type by name, and a container by its own name.
    const worker = await execOnce(execUrl(h.berth.url, h.app, { tty: "false", container: "worker", cmd: ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"] }), admin);
    expect(worker.stdout).toContain("while true");
    // With a TTY, output is the terminal's (carriage returns and all) and the size is the one asked for.
    const tty = await execOnce(execUrl(h.berth.url, h.app, { tty: "true", cols: "91", rows: "17", cmd: ["sh", "-c", "sleep 0.3; stty size; exit 0"] }), admin);
    expect([tty.stdout, tty.code]).toEqual(["17 91\r\n", 0]);
  });

  it("refuses without the token, an unknown or raw container id, hostile input and too many sessions", async () => {
    expect(await execOnce(execUrl(h.berth.url, h.app, { cmd: "true" }), {})).toMatchObject({ status: 401 });
    expect(await execOnce(execUrl(h.berth.url, h.app, { cmd: "true" }), { authorization: "Bearer wrong" })).toMatchObject({ status: 401 });
    expect(await execOnce(execUrl(h.berth.url, "no-such-app", { cmd: "true" }), admin)).toMatchObject({ status: 404 });
    const nope = await execOnce(execUrl(h.berth.url, h.app, { container: "nope", cmd: "true" }), admin);
    expect(nope).toMatchObject({ status: 404 });
    expect(nope.error).toContain("its processes: web, worker");
    // Another container on the same engine, by its id: never entered, only the app's labelled containers are.
    const other = spawnSync("docker", ["ps", "-q", "--no-trunc", "--filter", `name=${h.proxy}`], { encoding: "utf8" }).stdout.trim();
    expect(other).toMatch(/^[0-9a-f]{64}$/);
    expect(await execOnce(execUrl(h.berth.url, h.app, { container: other, cmd: "true" }), admin)).toMatchObject({ status: 404 });
    expect(await execOnce(execUrl(h.berth.url, h.app, { environment: "staging", cmd: "true" }), admin)).toMatchObject({ status: 400 });
    expect(await execOnce(execUrl(h.berth.url, h.app, { cmd: Array(65).fill("x") }), admin)).toMatchObject({ status: 400 });
    // A handshake that is not a WebSocket's is refused before anything starts.
    const bad = await new Promise<number>((resolve, reject) => {
      const req = request(execUrl(h.berth.url, h.app, { cmd: "true" }), { headers: { ...admin, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13" } });
      req.on("response", (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on("error", reject);
      req.end();
    });
    expect(bad).toBe(400);
    expect((await fetch(execUrl(h.berth.url, h.app, { cmd: "true" }), { headers: admin })).status).toBe(426);
    // A frame above the limit (64 KiB) ends the session.
    const big = await execOnce(execUrl(h.berth.url, h.app, { tty: "false", cmd: "cat" }), admin, "x".repeat(70_000));
    expect(big.code).toBeNull();
    // Four sessions per user at once; the fifth is refused until one ends.
    const open = await Promise.all(Array.from({ length: 4 }, () => opened(execUrl(h.berth.url, h.app, { tty: "false", cmd: ["sleep", "30"] }))));
    expect(await execOnce(execUrl(h.berth.url, h.app, { cmd: "true" }), admin)).toMatchObject({ status: 429 });
    for (const ws of open) ws.close();
    await waitFor("sessions closed", async () => (await execOnce(execUrl(h.berth.url, h.app, { tty: "false", cmd: "true" }), admin)).code === 0, 10_000, 100);
    // Every session is in berth's log with who, app, environment, container, start and end.
    expect(h.berth.output()).toMatch(new RegExp(`"who":"admin token","app":"${h.app}","environment":"production","container":"[^"]+","process":"web".*"msg":"exec session started"`));
    expect(h.berth.output()).toMatch(/"reason":"exited","exitCode":3.*"msg":"exec session ended"/);
  });

  it.skipIf(noBrowser)("opens a terminal in the browser for a writer, who types a command and sees its output; a reader is refused", async () => {
    const alice = await signIn(browser!, h.github, h.berth.url, "alice");
    await alice.page.goto(`/apps/${h.app}`);
    await alice.page.click('#environments tr[data-environment="production"] a:text("terminal")');
    await alice.page.waitForURL(/\/terminal\?environment=production$/);
    await alice.page.locator('#terminal[data-state="open"]').waitFor();
    await alice.page.locator(".xterm-rows", { hasText: "#" }).waitFor(); // the shell's prompt
    await alice.page.keyboard.type("echo hello-$((6*7))\n");
    await alice.page.locator(".xterm-rows", { hasText: "hello-42" }).waitFor({ timeout: 10_000 });
    expect(await alice.page.locator(".xterm-rows").textContent()).toContain("echo hello-$((6*7))");
    expect(h.berth.output()).toMatch(/"who":"alice","app":"[^"]+","environment":"production".*"exec session started"/);
    // The session's cookie from another site's page (cross-site WebSocket hijacking) is refused.
    const cookie = (await alice.context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const evil = await execOnce(execUrl(h.berth.url, h.app, { cmd: "id" }), { cookie, origin: "http://evil.example" });
    expect(evil).toMatchObject({ status: 403 });
    expect(await execOnce(execUrl(h.berth.url, h.app, { cmd: "id" }), { cookie })).toMatchObject({ status: 403 });
    const own = await execOnce(execUrl(h.berth.url, h.app, { tty: "false", cmd: ["echo", "mine"] }), { cookie, origin: h.berth.url });
    expect([own.stdout, own.code]).toEqual(["mine\n", 0]);
    await alice.context.close();

    const bob = await signIn(browser!, h.github, h.berth.url, "bob");
    await bob.page.goto(`/apps/${h.app}`);
    expect(await bob.page.locator("a", { hasText: "terminal" }).count()).toBe(0);
    expect((await bob.page.goto(`/apps/${h.app}/terminal`))?.status()).toBe(403);
    const bobCookie = (await bob.context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const refused = await execOnce(execUrl(h.berth.url, h.app, { cmd: "id" }), { cookie: bobCookie, origin: h.berth.url });
    expect(refused).toMatchObject({ status: 403 });
    expect(refused.error).toContain("needs write access");
    await bob.context.close();
  });

  it.skipIf(noBrowser)("shows containers with health and restarts, domains with the record to add, and sleep/wake buttons for writers only", async () => {
    // Docker restarts the worker once (its command exits on SIGTERM); autoheal's restarts are read from the deployment's log.
    expect((await execOnce(execUrl(h.berth.url, h.app, { tty: "false", container: "worker", cmd: ["kill", "1"] }), admin)).code).toBe(0);
    const name = await waitFor("worker restarted", async () => {
      const out = spawnSync("docker", ["ps", "--filter", `label=berth.instance=${h.instance}`, "--filter", "label=berth.process=worker", "--format", "{{.Names}}"], { encoding: "utf8" }).stdout.trim();
      const count = out ? spawnSync("docker", ["inspect", "-f", "{{.RestartCount}}", out], { encoding: "utf8" }).stdout.trim() : "";
      return count === "1" ? out : undefined;
    }, 30_000, 200);
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    await client.query("insert into build_logs (deployment_id, chunk) select deployment_id, $1 from releases where state = 'live' limit 1", [`==> 12:00:00.000 autoheal: restarted ${name}: Docker reported its health command failing\n`]);
    await client.end();
    const added = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/domains`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name: "shop.example.com" }) });
    expect(added.status).toBe(201);

    const alice = await signIn(browser!, h.github, h.berth.url, "alice");
    await alice.page.goto(`/apps/${h.app}`);
    const worker = alice.page.locator(`#containers tr[data-container="${name}"]`);
    expect(await worker.locator("td.restarts").textContent()).toBe("2 (1 by autoheal)");
    expect(await worker.textContent()).toContain("running");
    expect(await alice.page.locator('#containers tr[data-process="web"]').textContent()).toContain("production");
    expect(await alice.page.locator('#domains tr[data-domain="shop.example.com"]').textContent()).toContain(`pending`);
    expect(await alice.page.locator('#domains tr[data-domain="shop.example.com"] code').textContent()).toBe(`shop.example.com. CNAME ${h.app}.localhost.`);
    // The audit trail: every session so far, newest first, with how it ended.
    const sessions = alice.page.locator("#sessions tr[data-session]");
    expect(await sessions.count()).toBe(10);
    expect(await sessions.first().textContent()).toMatch(/admin token.*production.*worker.*exited 0.*kill \(2 words\)/s);
    expect(await alice.page.locator("#sessions").textContent()).toContain("alice");
    const audit = new pg.Client({ connectionString: h.databaseUrl });
    await audit.connect();
    const rows = (await audit.query("select who, command, reason, exit_code, ended_at is not null as ended from exec_sessions order by id")).rows;
    await audit.end();
    expect(rows[0]).toEqual({ who: "admin token", command: "sh (3 words)", reason: "exited", exit_code: 3, ended: true });
    expect(rows.some((r) => r.who === "alice" && r.ended)).toBe(true);
    expect(rows.every((r) => r.ended)).toBe(true);
    // Sleep, then wake, production from its row.
    await alice.page.click('#environments tr[data-environment="production"] button:text("Sleep")');
    await alice.page.waitForURL(`${h.berth.url}/apps/${h.app}`);
    expect(await alice.page.locator('#environments tr[data-environment="production"]').textContent()).toContain("sleeping");
    expect(await alice.page.locator('#containers tr[data-process="web"]').textContent()).not.toContain("running");
    await alice.page.click('#environments tr[data-environment="production"] button:text("Wake")');
    await alice.page.waitForURL(`${h.berth.url}/apps/${h.app}`);
    expect(await alice.page.locator('#environments tr[data-environment="production"]').textContent()).not.toContain("sleeping");
    expect(await alice.page.locator('#containers tr[data-process="web"]').textContent()).toContain("running");
    // Without the session's CSRF token: refused.
    const forged = await alice.page.request.post(`/apps/${h.app}/environments/production/sleep`, { form: {}, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    await alice.context.close();

    const bob = await signIn(browser!, h.github, h.berth.url, "bob");
    await bob.page.goto(`/apps/${h.app}`);
    expect(await bob.page.locator("#containers tr[data-container]").count()).toBeGreaterThan(1); // readers see them
    expect(await bob.page.locator("button", { hasText: "Sleep" }).count()).toBe(0);
    expect(await bob.page.locator("#sessions").count()).toBe(0); // who opened terminals is for writers
    const csrf = await bob.page.locator('nav input[name="csrf"]').inputValue();
    const asReader = await bob.page.request.post(`/apps/${h.app}/environments/production/sleep`, { form: { csrf }, maxRedirects: 0 });
    expect(asReader.status()).toBe(403);
    expect(await asReader.text()).toContain("need write access");
    await bob.context.close();
    expect(await getVia(h.ingressPort, h.host).then((r) => r.body)).toBe("exec me\n");
  });

  it("berth exec from the built CLI: pipes, the command's exit code, an interactive TTY, refusals", () => {
    const piped = cli([h.app, "--", "sh", "-c", "cat; echo to-stderr >&2; exit 7"], "from stdin\n");
    expect([piped.status, piped.stdout, piped.stderr]).toEqual([7, "from stdin\n", "to-stderr\n"]);
    const worker = cli([h.app, "--container", "worker", "--", "sh", "-c", "echo $BERTH_APP"]);
    expect([worker.status, worker.stdout]).toEqual([0, `${h.app}\n`]);
    const missing = cli([h.app, "--env", "pr-9", "--", "true"]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain("berth: pr-9 of");
    // Under a terminal (script(1) gives it one): a TTY in the container, the window's size, raw keys.
    const env = { ...process.env, BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: ADMIN_TOKEN, COLUMNS: "100", LINES: "30" };
    const line = `stty cols 100 rows 30; node dist/cli/berth.js exec ${h.app} -- sh -c 'tty; sleep 0.3; stty size; exit 5'`;
    const tty = spawnSync("script", ["-qec", line, "/dev/null"], { encoding: "utf8", env, timeout: 30_000 });
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+\r*\n/);
    expect(tty.stdout).toMatch(/30 100\r*\n/);
    expect(tty.status).toBe(5);
  });

  it("closes open terminals (1001) when berth stops, which does not wait for them", async () => {
    const ws = await opened(execUrl(h.berth.url, h.app, { tty: "false", cmd: "cat" }));
    const closed = new Promise<number>((resolve) => ws.once("close", resolve));
    const started = Date.now();
    await h.restart();
    expect(await closed).toBe(1001);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await execOnce(execUrl(h.berth.url, h.app, { tty: "false", cmd: ["echo", "back"] }), admin)).stdout).toBe("back\n");
  });
});

function opened(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws"), { headers: admin });
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
  });
}
