import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { execOnce, execUrl } from "../support/exec-client.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { waitFor } from "../support/services.js";

const CLI = join(import.meta.dirname, "../../dist/cli/berth.js");

/**
 * Per-user API tokens end to end: issued through GitHub's device flow (the fake GitHub's device
 * endpoints) and on the dashboard's Tokens page, authorizing as that user on GitHub, listed,
 * revoked, bounded; and `berth login --github` running the built CLI.
 */
describe("per-user API tokens and device login", () => {
  let h: Harness;
  let repo: string;
  let work: string;
  const api = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${h.berth.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const poll = (deviceCode: string) => fetch(`${h.berth.url}/api/v1/login/device/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ deviceCode, name: "e2e" }) });

  /** A device login as `login`, through the API the CLI uses. */
  const tokenFor = async (login: string): Promise<string> => {
    const start = (await (await fetch(`${h.berth.url}/api/v1/login/device`, { method: "POST" })).json()) as { deviceCode: string; userCode: string };
    expect(h.github.people.enterDeviceCode(start.userCode, login)).toBe(true);
    const res = await poll(start.deviceCode);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { token: string; login: string };
    expect(body.login).toBe(login);
    return body.token;
  };

  beforeAll(async () => {
    h = await startHarness({}, 5);
    work = mkdtempSync(join(tmpdir(), "berth-tokens-"));
    repo = `octo-org/${h.app}`;
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    await client.query("insert into apps (name, repo_full_name, repo_id, installation_id, default_branch) values ($1, $2, '4242', '77', 'main')", [h.app, repo]);
    await client.query("insert into apps (name, repo_full_name, repo_id, installation_id, default_branch) values ($1, $2, '4343', '77', 'main')", [`${h.app}-two`, `${repo}-two`]);
    h.github.repositories.set(`${repo}-two`, { id: 4343, defaultBranch: "main" });
    await client.end();
    h.github.people.addUser("alice", { [repo]: "write" });
    h.github.people.addUser("bob", { [repo]: "read" });
    h.github.people.addUser("carol");
    h.github.people.addUser("dave", { [repo]: "write" });
    h.github.people.addUser("erin", { [repo]: "write", [`${repo}-two`]: "read" });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("issues a token through GitHub's device flow: pending until the code is entered, refused when the user cancels", async () => {
    const start = await fetch(`${h.berth.url}/api/v1/login/device`, { method: "POST" });
    expect(start.status).toBe(200);
    const d = (await start.json()) as { deviceCode: string; userCode: string; verificationUri: string };
    expect(d.verificationUri).toBe(`http://${h.github.host}/login/device`);
    const pending = await poll(d.deviceCode);
    expect([pending.status, await pending.json()]).toEqual([202, { pending: true, slowDown: false }]);
    h.github.people.enterDeviceCode(d.userCode, null);
    const refused = await poll(d.deviceCode);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe("GitHub did not log you in (access_denied); run berth login --github again.");
  });

  it("authorizes as the GitHub user: read lists and shows, write acts, no access sees nothing, only installation admins manage servers", async () => {
    const [alice, bob, carol] = [await tokenFor("alice"), await tokenFor("bob"), await tokenFor("carol")];
    expect(alice).toMatch(/^berth_[A-Za-z0-9_-]{43}$/);
    const names = async (t: string) => ((await (await api(t, "GET", "/apps")).json()) as { name: string }[]).map((a) => a.name);
    expect(await names(alice)).toEqual([h.app]);
    expect(await names(bob)).toEqual([h.app]);
    expect(await names(carol)).toEqual([]);
    expect((await api(carol, "GET", `/apps/${h.app}`)).status).toBe(404);
    expect((await api(bob, "GET", `/apps/${h.app}/deployments`)).status).toBe(200);
    const bobDeploys = await api(bob, "POST", `/apps/${h.app}/deployments`, { environment: "production" });
    expect([bobDeploys.status, await bobDeploys.json()]).toEqual([403, { error: `You can read ${h.app}'s repository but not write to it, which this needs.` }]);
    expect((await api(bob, "PUT", `/apps/${h.app}/secrets/TOKEN_TEST`, { value: "x" })).status).toBe(403);
    expect((await api(alice, "PUT", `/apps/${h.app}/secrets/TOKEN_TEST`, { value: "x" })).status).toBe(204);
    // Past the permission check: production runs nothing yet.
    expect((await api(alice, "POST", `/apps/${h.app}/deployments`, { environment: "production" })).status).toBe(404);
    h.github.people.orgRoles.set("alice", new Map([["octo-org", "admin"]]));
    h.github.people.orgRoles.set("bob", new Map([["octo-org", "member"]]));
    expect((await api(bob, "GET", "/servers")).status).toBe(403);
    expect((await api(alice, "GET", "/servers")).status).toBe(200);
    // The admin token belongs to nobody: it has no tokens of its own.
    expect((await api(ADMIN_TOKEN, "GET", "/tokens")).status).toBe(403);
  });

  it("leaves servers to admins of the account that owns berth's App, not to whoever installed it on their own account", async () => {
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    await client.query("insert into apps (name, repo_full_name, repo_id, installation_id, default_branch) values ($1, 'carol/mine', '4545', '78', 'main')", [`${h.app}-carol`]);
    await client.end();
    const carol = await tokenFor("carol");
    expect((await api(carol, "GET", "/servers")).status).toBe(403);
  });

  it("opens exec and the preview access token by the person's own permission, as every API route", async () => {
    const [alice, bob, carol] = [await tokenFor("alice"), await tokenFor("bob"), await tokenFor("carol")];
    const exec = (token: string) => execOnce(execUrl(h.berth.url, h.app, { environment: "production", cmd: "true" }), { authorization: `Bearer ${token}` });
    // A writer passes the check and finds no container (production runs nothing yet); a reader may not; a stranger sees no app.
    expect((await exec(alice)).status).toBe(404);
    expect([(await exec(bob)).status, (await exec(carol)).status, (await exec("berth_" + "x".repeat(43))).status]).toEqual([403, 404, 401]);
    const tokenOf = (token: string) => api(token, "GET", `/apps/${h.app}/environments/production/access-token`);
    const shown = await tokenOf(alice);
    expect(shown.status).toBe(200);
    expect(((await shown.json()) as { token: string }).token).toMatch(/\S{20,}/);
    expect([(await tokenOf(bob)).status, (await tokenOf(carol)).status]).toEqual([403, 404]);
  });

  it("lists, creates (bounded) and revokes a user's tokens; a revoked token and a GitHub-revoked sign-in stop working", async () => {
    const first = await tokenFor("dave");
    const created = await api(first, "POST", "/tokens", { name: "ci" });
    expect(created.status).toBe(201);
    const second = (await created.json()) as { id: number; name: string; token: string };
    const listed = (await (await api(second.token, "GET", "/tokens")).json()) as { id: number; name: string; lastUsedAt: string | null }[];
    expect(listed.map((t) => t.name)).toEqual(["ci", "e2e"]);
    expect(listed[1]!.lastUsedAt).not.toBeNull();
    expect((await api(second.token, "DELETE", `/tokens/${listed[1]!.id}`)).status).toBe(204);
    const revoked = await api(first, "GET", "/apps");
    expect([revoked.status, await revoked.json()]).toEqual([401, { error: "This API token is unknown or was revoked; create a new one on the dashboard's Tokens page, or run berth login." }]);
    for (let i = 1; i < 20; i++) expect((await api(second.token, "POST", "/tokens", { name: `t${i}` })).status).toBe(201);
    expect((await api(second.token, "POST", "/tokens", { name: "one too many" })).status).toBe(409);
    // dave revokes berth's access on GitHub: his berth tokens stop at the next permission lookup.
    h.github.people.revokeTokens("dave");
    const ended = await api(second.token, "GET", `/apps/${h.app}`);
    expect(ended.status).toBe(401);
    expect((await api(second.token, "GET", "/apps")).status).toBe(401); // the listing asks GitHub too, and says so

    // Stored: hashes only, no token and no GitHub token in the clear.
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    const rows = (await client.query("select * from api_tokens")).rows;
    await client.end();
    expect(JSON.stringify(rows)).not.toContain(second.token);
    expect(JSON.stringify(rows)).not.toContain("gho_fake_");
  });

  it("renews the GitHub sign-in behind a device-login token when it expires, with its refresh token", async () => {
    const token = await tokenFor("erin");
    expect((await api(token, "GET", `/apps/${h.app}`)).status).toBe(200);
    h.github.people.expireTokens("erin"); // 8 hours later, for an App whose user tokens expire
    const before = h.github.people.refreshes;
    // An app erin's access to is not cached yet: berth asks GitHub, is refused, renews, asks again.
    expect((await api(token, "GET", `/apps/${h.app}-two`)).status).toBe(200);
    expect(h.github.people.refreshes).toBe(before + 1);
    expect((await api(token, "PUT", `/apps/${h.app}-two/secrets/X`, { value: "x" })).status).toBe(403); // read only, still as erin
  });

  it("creates a token on the dashboard's Tokens page (shown once), which the API accepts until it is revoked there", async () => {
    h.github.people.signedIn = "bob";
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) jar.set(c.split("=")[0]!, c.split(";")[0]!.split("=").slice(1).join("="));
      return res;
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const login = keep(await fetch(`${h.berth.url}/login`, { redirect: "manual" }));
    const back = await fetch(login.headers.get("location")!, { redirect: "manual" });
    keep(await fetch(back.headers.get("location")!, { redirect: "manual", headers: { cookie: cookie() } }));
    const page = await (await fetch(`${h.berth.url}/tokens`, { headers: { cookie: cookie() } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const form = (body: Record<string, string>, path = "/tokens") => fetch(`${h.berth.url}${path}`, { method: "POST", redirect: "manual", headers: { cookie: cookie(), "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(body) });
    expect((await form({ csrf: "wrong", name: "x" })).status).toBe(403);
    const shown = await (await form({ csrf, name: "laptop" })).text();
    const token = /<code id="token-value">([^<]+)<\/code>/.exec(shown)![1]!;
    expect((await api(token, "GET", `/apps/${h.app}`)).status).toBe(200);
    const again = await (await fetch(`${h.berth.url}/tokens`, { headers: { cookie: cookie() } })).text();
    expect(again).not.toContain(token); // shown once
    const id = /data-token="(\d+)"><td>laptop</.exec(again)![1]!;
    expect((await form({ csrf }, `/tokens/${id}/revoke`)).status).toBe(303);
    expect((await api(token, "GET", `/apps/${h.app}`)).status).toBe(401);
  });

  it("berth login --github (the built CLI) prints the code, waits for it to be entered, and saves a token the next command uses", async () => {
    const env = { ...process.env, XDG_CONFIG_HOME: work, BERTH_PUBLIC_URL: "", BERTH_API_TOKEN: "" };
    const child = spawn(process.execPath, [CLI, "login", "--github", "--url", h.berth.url], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    const code = await waitFor("the CLI prints a code", () => /enter the code ([A-Z0-9-]+)/.exec(out)?.[1], 20_000);
    expect(out).toContain(`Open http://${h.github.host}/login/device`);
    h.github.people.enterDeviceCode(code, "alice");
    expect(await exited, out).toBe(0);
    expect(out).toContain("GitHub says you are alice");
    const file = join(work, "berth", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((JSON.parse(readFileSync(file, "utf8")) as { token: string }).token).toMatch(/^berth_/);
    const cli = async (...argv: string[]): Promise<{ code: number | null; out: string }> => {
      const c = spawn(process.execPath, [CLI, ...argv], { env, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      c.stdout.on("data", (b: Buffer) => (text += b.toString()));
      return { code: await new Promise<number | null>((r) => c.on("exit", r)), out: text };
    };
    const apps = await cli("apps", "--json");
    expect(apps.code).toBe(0);
    expect((JSON.parse(apps.out) as { name: string }[]).map((a) => a.name)).toContain(h.app);
    const tokens = await cli("tokens", "--json");
    const mine = JSON.parse(tokens.out) as { id: number; name: string }[];
    expect(mine.map((t) => t.name)).toContain(`berth CLI on ${hostname().slice(0, 40)}`);
    const newest = Math.max(...mine.map((t) => t.id));
    expect(await cli("tokens", "revoke", String(newest))).toEqual({ code: 0, out: `revoked token ${newest}\n` });
    const after = await cli("apps");
    expect(after.code).toBe(1);
    expect(after.out).toContain("This API token is unknown or was revoked");
  }, 60_000);
});
