import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Browser } from "playwright-core";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { apiDeployments } from "../support/harness-queries.js";
import { getVia, waitFor } from "../support/services.js";
import { launchChromium, noBrowser, signIn } from "../support/browser.js";

const ZERO = "0".repeat(40);

/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against the running
 * server and the fake GitHub's OAuth web flow: who sees what follows their access to the repository.
 */
describe.skipIf(noBrowser)("dashboard in a browser, end to end", () => {
  let h: Harness;
  let browser: Browser;
  const hidden = "hidden-app";
  const served = (body: string) => waitFor(`${body.trim()} served`, async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 120_000, 50);

  beforeAll(async () => {
    h = await startHarness({}, 4);
    const repo = `octo-org/${h.app}`;
    // An app of a repository alice cannot read: recorded as the installation event would.
    h.github.repositories.set(`octo-org/${hidden}`, { id: 999_001, defaultBranch: "main" });
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    await client.query("insert into apps (name, repo_full_name, repo_id, installation_id, default_branch) values ($1, $2, '999001', '77', 'main')", [hidden, `octo-org/${hidden}`]);
    await client.end();
    h.github.people.addUser("alice", { [repo]: "write" });
    h.github.people.addUser("bob", { [repo]: "read", [`octo-org/${hidden}`]: "read" });
    h.github.people.addUser("carol");
    const v1 = h.repo.commit(staticSite("dashboard one\n"), "v1");
    await h.push(v1, ZERO);
    await served("dashboard one\n");
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("signs in with GitHub into an HttpOnly, SameSite=Lax session and lists only the apps the user can read", async () => {
    const { context, page } = await signIn(browser, h.github, h.berth.url, "alice");
    const rows = page.locator("#apps tr[data-app]");
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-app")))).toEqual([h.app]);
    expect(await page.locator(`#apps tr[data-app="${h.app}"]`).textContent()).toContain("live");
    const cookie = (await context.cookies()).find((c) => c.name === "berth_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    expect(page.url()).not.toContain("code="); // the callback redirected away: nothing of the flow stays in the address bar
    // bob reads both repositories: both apps.
    const bob = await signIn(browser, h.github, h.berth.url, "bob");
    expect(await bob.page.locator("#apps tr[data-app]").count()).toBe(2);
    await bob.context.close();
    // carol reads neither: no apps, and the pages of one are not found.
    const carol = await signIn(browser, h.github, h.berth.url, "carol");
    expect(await carol.page.locator("#apps tr[data-app]").count()).toBe(0);
    expect((await carol.page.goto(`/apps/${h.app}`))?.status()).toBe(404);
    const id = (await apiDeployments(h))[0]!.id;
    expect((await carol.page.goto(`/deployments/${id}`))?.status()).toBe(404);
    await carol.context.close();
    // On a phone's screen the pages fit its width: wide tables scroll inside themselves.
    const phone = await browser.newContext({ baseURL: h.berth.url, viewport: { width: 375, height: 667 }, storageState: await context.storageState() });
    const small = await phone.newPage();
    for (const path of ["/", `/apps/${h.app}`, `/deployments/${id}`, "/queue"]) {
      await small.goto(path);
      expect(await small.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(375);
    }
    await phone.close();
    await context.close();
  });

  it("follows a build's log live on its page, reached from the apps list", async () => {
    const { context, page } = await signIn(browser, h.github, h.berth.url, "alice");
    const before = h.repo.head;
    const site = staticSite("dashboard two\n");
    const sha = h.repo.commit({ ...site, Dockerfile: site.Dockerfile!.replace("\nCOPY", `\nRUN echo ${h.app} && for i in $(seq 1 6); do echo tick $i; sleep 1; done\nCOPY`) }, "slow v2");
    await h.push(sha, before);
    await waitFor("v2 building", async () => (await apiDeployments(h)).find((d) => d.sha === sha)?.state === "building", 60_000, 100);
    await page.reload();
    await page.click(`#apps tr[data-app="${h.app}"] a[href^="/deployments/"]`);
    await page.waitForURL(/\/deployments\/\d+$/);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1)); // gone if the page reloads
    expect(await page.locator("#log").textContent()).not.toContain("tick 6");
    await page.locator("#log", { hasText: "tick 6" }).waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1); // streamed, not reloaded
    await page.locator(".state.live").waitFor({ timeout: 60_000 });
    await served("dashboard two\n");
    await context.close();
  });

  it("redeploys from the app page and the new deployment goes live; rolls back to an earlier one", async () => {
    const { context, page } = await signIn(browser, h.github, h.berth.url, "alice");
    await page.goto(`/apps/${h.app}`);
    const before = (await apiDeployments(h)).map((d) => d.id);
    await page.click('#environments tr[data-environment="production"] button:text("Redeploy")');
    await page.waitForURL(/\/deployments\/\d+$/);
    const id = Number(/(\d+)$/.exec(page.url())![1]);
    expect(before).not.toContain(id);
    await page.locator(".state.live").waitFor({ timeout: 120_000 });
    expect(await page.locator("dl").textContent()).toContain("alice");
    // The first release (dashboard one) was replaced: roll back to it from the history.
    await page.goto(`/apps/${h.app}`);
    const first = Math.min(...before);
    await page.click(`#deployments tr[data-deployment="${first}"] button:text("Roll back to this")`);
    await page.waitForURL(/\/deployments\/\d+$/);
    await page.locator(".state.live").waitFor({ timeout: 120_000 });
    await served("dashboard one\n");
    await context.close();
  });

  it("refuses an action to a reader, and any post without the session's CSRF token", async () => {
    const bob = await signIn(browser, h.github, h.berth.url, "bob");
    await bob.page.goto(`/apps/${h.app}`);
    expect(await bob.page.locator("button", { hasText: "Redeploy" }).count()).toBe(0); // no buttons for a reader
    const bobCsrf = await bob.page.locator('nav input[name="csrf"]').inputValue();
    const asReader = await bob.page.request.post(`/apps/${h.app}/redeploy`, { form: { csrf: bobCsrf, environment: "production" }, maxRedirects: 0 });
    expect(asReader.status()).toBe(403);
    expect(await asReader.text()).toContain("need write access");
    await bob.context.close();

    const alice = await signIn(browser, h.github, h.berth.url, "alice");
    const count = (await apiDeployments(h)).length;
    const noToken = await alice.page.request.post(`/apps/${h.app}/redeploy`, { form: { environment: "production" }, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    const wrongToken = await alice.page.request.post(`/apps/${h.app}/redeploy`, { form: { environment: "production", csrf: bobCsrf }, maxRedirects: 0 });
    expect(wrongToken.status()).toBe(403);
    expect(await alice.page.request.post(`/logout`, { form: {}, maxRedirects: 0 }).then((r) => r.status())).toBe(403);
    expect((await apiDeployments(h)).length).toBe(count); // nothing was started
    await alice.context.close();
  });

  it("checks the OAuth state, and signing out ends the session on the server", async () => {
    const res = await fetch(`${h.berth.url}/login/callback?code=abc&state=${"0".repeat(32)}`, { headers: { cookie: `berth_oauth=${"1".repeat(32)}.Lw` }, redirect: "manual" });
    expect(res.status).toBe(403);
    const started = await fetch(`${h.berth.url}/login`, { redirect: "manual" });
    expect(started.status).toBe(302);
    expect(started.headers.get("location")).toMatch(/\/login\/oauth\/authorize\?client_id=Iv1\.fakeclient0001&redirect_uri=.*&state=[0-9a-f]{32}/);
    // A page opened before signing in is where the sign-in returns to.
    const fresh = await browser.newContext({ baseURL: h.berth.url });
    const first = await fresh.newPage();
    h.github.people.signedIn = "alice";
    await first.goto(`/apps/${h.app}`);
    await first.click("#login-github");
    await first.waitForURL(`${h.berth.url}/apps/${h.app}`);
    await fresh.close();
    const { context, page } = await signIn(browser, h.github, h.berth.url, "alice");
    const session = (await context.cookies()).find((c) => c.name === "berth_session")!;
    await page.click('nav button:text("Log out")');
    await page.locator("#login-github").waitFor();
    const replay = await fetch(`${h.berth.url}/apps/${h.app}`, { headers: { cookie: `berth_session=${session.value}` }, redirect: "manual" });
    expect(replay.status).toBe(303); // to the sign-in page: the old cookie opens nothing
    await context.close();
  });

  it("shows the build queue with why each deployment waits, and a writer cancels a build from its page", async () => {
    const { context, page } = await signIn(browser, h.github, h.berth.url, "alice");
    const before = h.repo.head;
    const site = staticSite("never released\n");
    const slow = h.repo.commit({ ...site, Dockerfile: site.Dockerfile!.replace("\nCOPY", `\nRUN echo ${h.app}-${Date.now()} && sleep 60\nCOPY`) }, "slow");
    await h.push(slow, before);
    const building = await waitFor("slow building", async () => (await apiDeployments(h)).find((d) => d.sha === slow && d.state === "building"), 60_000, 100);
    const pr = h.repo.commitToPull(5, staticSite("pr five\n"));
    await h.pull({ action: "opened", number: 5, head: pr });
    const waiting = await waitFor("pr queued", async () => (await apiDeployments(h)).find((d) => d.sha === pr && d.state === "queued"), 30_000, 100);
    await page.goto("/queue");
    expect(await page.locator(`#queue tr[data-deployment="${building.id}"]`).textContent()).toContain("building");
    expect(await page.locator(`#queue tr[data-deployment="${waiting.id}"]`).textContent()).toContain("waits for a build slot of its app (1 of 1 in use)");
    await page.click(`#queue tr[data-deployment="${building.id}"] a[href="/deployments/${building.id}"]`);
    await page.click('#actions button:text("Cancel")');
    await page.waitForURL(`${h.berth.url}/deployments/${building.id}`);
    await page.locator(".state.cancelled").waitFor({ timeout: 30_000 });
    // Its slot went to the pull request's build.
    await waitFor("pr build started", async () => (await apiDeployments(h)).find((d) => d.id === waiting.id)?.state !== "queued", 30_000, 100);
    await context.close();
  });

  it("follows an environment's runtime logs live in the page, filtered by process, and through the API as NDJSON", async () => {
    const before = h.repo.head;
    // The ticker also prints a secret's value, which no log shows.
    const ticker = `secrets: [TICK_TOKEN]\nenv: { TOKEN: "\${secret.TICK_TOKEN}" }\nprocesses:\n  ticker: { command: "sh -c 'i=0; while true; do i=$((i+1)); echo tick-$i $TOKEN; sleep 0.2; done'" }\n`;
    const put = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/secrets/TICK_TOKEN`, { method: "PUT", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ value: "hush-4711" }) });
    expect(put.status).toBe(204);
    const sha = h.repo.commit({ ...staticSite("with ticker\n"), "berth.yaml": ticker }, "ticker");
    await h.push(sha, before);
    await served("with ticker\n");
    const { context, page } = await signIn(browser, h.github, h.berth.url, "alice");
    await page.goto(`/apps/${h.app}`);
    await page.click('#environments tr[data-environment="production"] a:text("logs")');
    await page.selectOption('select[name="process"]', "ticker");
    await Promise.all([page.waitForURL(/process=ticker/), page.click('#filter button')]);
    // Arrival time in the browser of every line, against the time Docker stamped on the container's write.
    await page.evaluate(() => {
      const w = window as unknown as { lags: number[] };
      w.lags = [];
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) {
          const t = (n as HTMLElement).dataset?.time;
          if (t) w.lags.push(Date.now() - Date.parse(t.slice(0, 23) + "Z"));
        }
      }).observe(document.getElementById("logs")!, { childList: true });
    });
    // The tail (older lines) comes first; the lines written after it measure following.
    await expect.poll(() => page.evaluate(() => (window as unknown as { lags: number[] }).lags.length), { timeout: 30_000 }).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000));
    await page.evaluate(() => ((window as unknown as { lags: number[] }).lags = []));
    await expect.poll(() => page.evaluate(() => (window as unknown as { lags: number[] }).lags.length), { timeout: 30_000 }).toBeGreaterThan(25);
    const text = await page.locator("#logs").textContent();
    expect(text).toMatch(/ticker tick-\d+ \[redacted\]/);
    expect(text).not.toContain("hush-4711");
    const lags = (await page.evaluate(() => (window as unknown as { lags: number[] }).lags)).sort((a, b) => a - b);
    console.log(`runtime log follow latency, container write to browser: median ${lags[Math.floor(lags.length / 2)]} ms, max ${lags.at(-1)} ms (${lags.length} lines)`);
    expect(lags[Math.floor(lags.length / 2)]).toBeLessThan(1000);
    // Filtered to web: no ticker lines.
    await page.goto(`/apps/${h.app}/logs?environment=production&process=web&tail=50`);
    await page.locator("#status", { hasText: "following" }).waitFor();
    expect(await page.locator("#logs").textContent()).not.toContain("tick-");
    // The app page names the secret and its scope, never its value.
    await page.goto(`/apps/${h.app}`);
    expect(await page.locator("#secrets").textContent()).toMatch(/TICK_TOKEN\s*production/);
    expect(await page.content()).not.toContain("hush-4711");
    await context.close();

    const api = (q: string, token = ADMIN_TOKEN) => fetch(`${h.berth.url}/api/v1/apps/${h.app}/logs?${q}`, { headers: { authorization: `Bearer ${token}` } });
    const tail = await api("environment=production&process=ticker&tail=5");
    expect(tail.headers.get("content-type")).toContain("application/x-ndjson");
    const rows = (await tail.text()).trim().split("\n").map((l) => JSON.parse(l) as { process: string; line: string; stream: string; time: string });
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.process === "ticker" && /^tick-\d+ \[redacted\]$/.test(r.line) && r.stream === "stdout" && r.time.endsWith("Z"))).toBe(true);
    const stop = new AbortController();
    const follow = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/logs?process=ticker&tail=0&follow=true`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: stop.signal });
    const reader = follow.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/"line":"tick-\d+ \[redacted\]"/); // a line written after the request: it follows
    stop.abort();
    // The CLI prints them: the built berth binary against the running server.
    const cli = execFileSync("node", ["dist/cli/berth.js", "logs", h.app, "--process", "ticker", "--tail", "3"], { encoding: "utf8", env: { ...process.env, BERTH_PUBLIC_URL: h.berth.url, BERTH_API_TOKEN: ADMIN_TOKEN } });
    expect(cli.trim().split("\n")).toEqual(Array(3).fill(expect.stringMatching(/^ticker +tick-\d+ \[redacted\]$/)));
    expect((await api("environment=pr-x")).status).toBe(400);
    expect((await api("process=nope")).status).toBe(404);
    expect((await api("", "wrong")).status).toBe(401);
    const carol = await signIn(browser, h.github, h.berth.url, "carol");
    expect((await carol.page.request.get(`/apps/${h.app}/logs/stream?process=ticker`)).status()).toBe(404);
    await carol.context.close();
  });

  it("lets admins of the installation's organization manage servers, and nobody else", async () => {
    const alice = await signIn(browser, h.github, h.berth.url, "alice");
    expect((await alice.page.goto("/servers"))?.status()).toBe(403); // writes to a repository, but no org admin
    await alice.context.close();
    h.github.people.addUser("dave");
    h.github.people.orgRoles.set("dave", new Map([["octo-org", "admin"]]));
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    await client.query("insert into servers (name, docker_url, labels, state) values ('spare', 'tcp://127.0.0.1:1', '{}', 'unreachable')");
    await client.end();
    const { context, page } = await signIn(browser, h.github, h.berth.url, "dave");
    await page.goto("/servers");
    expect(await page.locator("#servers tr[data-server]").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-server")))).toEqual(["local", "spare"]);
    expect(await page.locator('#servers tr[data-server="local"] button').count()).toBe(0); // the built-in server stays
    await page.fill('#add-server input[name="name"]', "nowhere");
    await page.fill('#add-server input[name="docker"]', "ssh://root@127.0.0.1:1");
    const refused = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/servers") && r.request().method() === "POST"), page.click('#add-server button:text("Connect and add")')]);
    expect(refused[0].status()).toBe(422);
    expect(await page.locator("#problem").textContent()).toContain("Server nowhere not registered");
    await page.goto("/servers");
    await page.click('#servers tr[data-server="spare"] button:text("Remove")');
    await page.waitForURL(`${h.berth.url}/servers`);
    expect(await page.locator("#servers tr[data-server]").count()).toBe(1);
    const noToken = await page.request.post("/servers/local/remove", { form: {}, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    await context.close();
  });
});
