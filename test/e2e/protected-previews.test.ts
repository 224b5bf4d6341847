import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../support/docker-cleanup.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { freePort, getVia, waitFor } from "../support/services.js";
import { Browser } from "../support/login-browser.js";

/**
 * Protected previews (issue 15 item 4), end to end through signed webhooks, the real proxy (Caddy's
 * forward_auth to berth's gate) and the fake GitHub's OAuth web flow: a private repository's preview
 * refuses anonymous requests, serves a logged-in reader after the ticket hand-off, refuses a user who
 * cannot read the repository, serves the machine token and refuses a wrong one; the app never sees
 * berth's cookie or the token header; a public repository's preview stays public.
 */
const ECHO_APP = (body: string, yaml = ""): Record<string, string> => ({
  Dockerfile: [
    "FROM berth-standin/busybox:latest",
    "COPY www /www",
    "RUN chmod +x /www/cgi-bin/echo.cgi",
    "EXPOSE 8080",
    'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]',
    "",
  ].join("\n"),
  "www/index.html": body,
  // What the app was sent: busybox httpd hands each request header to CGI as HTTP_*.
  "www/cgi-bin/echo.cgi": '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\necho "cookie=$HTTP_COOKIE"\necho "token=$HTTP_X_BERTH_PREVIEW_TOKEN"\n',
  "berth.yaml": yaml,
});

describe("protected previews", () => {
  let h: Harness;
  let fullName: string;
  const hostOf = (n: number) => `${h.app}-pr-${n}.localhost`;
  const urlOf = (n: number, path = "/") => `http://${hostOf(n)}:${h.ingressPort}${path}`;
  const completed = (sha: string) => waitFor(`check run on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 100);
  const open = async (n: number, files: Record<string, string>): Promise<void> => {
    const sha = h.repo.commitToPull(n, files);
    expect((await h.pull({ action: "opened", number: n, head: sha })).status).toBe(200);
    expect((await completed(sha)).conclusion).toBe("success");
  };
  const anonymous = (n: number, path = "/", headers: Record<string, string> = {}) => new Browser(h.ingressPort).request(urlOf(n, path), headers);
  const api = async (method: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${h.berth.url}/api/v1/apps/${h.app}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    h = await startHarness({ BERTH_RECONCILE_INTERVAL: "2" }, 3);
    fullName = `${h.facts.owner}/${h.facts.name}`;
    h.github.people.addUser("alice", { [fullName]: "read" });
    h.github.people.addUser("bob");
    h.github.people.addUser("carol", { [fullName]: "write" });
    h.repo.commit({ "index.html": "base\n" }, "base");
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  });

  it("keeps a public repository's preview public", async () => {
    await open(1, ECHO_APP("public preview\n"));
    await waitFor("public preview served", async () => (await anonymous(1).catch(() => undefined))?.body === "public preview\n", 60_000, 200);
    const caddyfile = await caddyfileOf(h.proxy);
    expect(caddyfile).not.toContain("forward_auth");
  });

  it("asks a private repository's preview visitor to log in, and serves a reader after the ticket hand-off", async () => {
    h.facts.private = true;
    await open(2, ECHO_APP("private preview\n"));
    // Anonymous: a browser is sent to berth's host to log in; a script gets 401; nothing of the app.
    const browserish = await waitFor("login redirect", async () => {
      const r = await anonymous(2).catch(() => undefined);
      return r?.status === 302 ? r : undefined;
    }, 60_000, 200);
    const login = new URL(browserish.headers.location!);
    expect(`${login.origin}${login.pathname}`).toBe(`${h.berth.url}/preview-login`);
    expect(login.searchParams.get("host")).toBe(hostOf(2));
    const script = await anonymous(2, "/", { accept: "application/json" });
    expect(script.status).toBe(401);
    expect(script.body).not.toContain("private preview");
    // The earlier public preview of the now private repository is protected too (its default changed).
    await waitFor("pr-1 protected", async () => (await anonymous(1, "/", { accept: "*/*" })).status === 401, 30_000, 200);
    // Production stays public.
    const before = h.repo.head;
    const sha = h.repo.commit(ECHO_APP("production\n"), "production");
    await h.push(sha, before);
    await waitFor("production public", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === "production\n", 120_000, 200);

    // alice can read the repository: GitHub login on berth's host, then a ticket to the preview's host.
    h.github.people.signedIn = "alice";
    const alice = new Browser(h.ingressPort);
    alice.jar.set(hostOf(2), new Map([["theirs", "kept"]]));
    const { hops, last } = await alice.open(urlOf(2, "/cgi-bin/echo.cgi"));
    expect(last.status).toBe(200);
    expect(hops.some((u) => u.startsWith(`${h.berth.url}/preview-login`))).toBe(true);
    const handOff = hops.find((u) => u.includes("/.berth/login?ticket="))!;
    expect(new URL(handOff).hostname).toBe(hostOf(2));
    expect(hops.at(-1)).toBe(urlOf(2, "/cgi-bin/echo.cgi"));
    // The app saw its own cookie, but neither berth's preview cookie nor its session cookie.
    expect(last.body).toContain("cookie=theirs=kept");
    expect(last.body).not.toMatch(/berth_/);
    const previewCookie = alice.jar.get(hostOf(2))?.get("berth_preview");
    expect(previewCookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(alice.jar.get("127.0.0.1")?.has("berth_session")).toBe(true);
    expect((await alice.request(urlOf(2))).body).toBe("private preview\n");
    // The ticket worked once: replayed, it opens nothing.
    const replay = await new Browser(h.ingressPort).request(handOff);
    expect(replay.status).toBe(403);
    expect(replay.headers["set-cookie"]).toBeUndefined();
    // The cookie is for pr-2 only.
    const elsewhere = await new Browser(h.ingressPort).request(urlOf(1), { cookie: `berth_preview=${previewCookie}`, accept: "*/*" });
    expect(elsewhere.status).toBe(401);
  }, 300_000);

  it("refuses a logged-in user who cannot read the repository", async () => {
    h.github.people.signedIn = "bob";
    const bob = new Browser(h.ingressPort);
    const { hops, last } = await bob.open(urlOf(2));
    expect(last.status).toBe(403);
    expect(hops.at(-1)).toContain(`${h.berth.url}/preview-login`);
    expect(last.body).toContain(`bob cannot read ${fullName}`);
    expect(last.body).not.toContain("private preview");
    expect(bob.jar.get(hostOf(2))?.has("berth_preview") ?? false).toBe(false);
  });

  it("serves the machine token, refuses a wrong one, and keeps the token from the app", async () => {
    const shown = await api("GET", "/environments/pr-2/access-token");
    expect(shown.status).toBe(200);
    const token = String(shown.body.token);
    expect(token).toMatch(/^bpt_/);
    expect(shown.body).toMatchObject({ environment: "pr-2", header: "x-berth-preview-token", access: "github" });
    expect((await api("GET", "/environments/pr-2/access-token")).body.token).toBe(token);
    const ok = await anonymous(2, "/cgi-bin/echo.cgi", { "x-berth-preview-token": token, accept: "*/*" });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("token=\n");
    const basic = await anonymous(2, "/", { authorization: `Basic ${Buffer.from(`berth:${token}`).toString("base64")}`, accept: "*/*" });
    expect(basic).toMatchObject({ status: 200, body: "private preview\n" });
    const wrong = await anonymous(2, "/", { "x-berth-preview-token": `bpt_${"A".repeat(43)}`, accept: "text/html" });
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain("private preview");
    // Another environment's token opens nothing here.
    const other = String((await api("GET", "/environments/pr-1/access-token")).body.token);
    expect((await anonymous(2, "/", { "x-berth-preview-token": other })).status).toBe(401);
    // Rotated: the old token stops working, the new one works.
    const rotated = await api("POST", "/environments/pr-2/access-token");
    expect(rotated.status).toBe(201);
    expect(rotated.body.token).not.toBe(token);
    expect((await anonymous(2, "/", { "x-berth-preview-token": token })).status).toBe(401);
    expect((await anonymous(2, "/", { "x-berth-preview-token": String(rotated.body.token) })).status).toBe(200);
    // berth's login route leads only to protected hosts: never from berth's origin to a public app.
    const toPublic = await fetch(`${h.berth.url}/preview-login?host=${h.host}&next=/`, { redirect: "manual" }); // production: public
    expect(toPublic.status).toBe(404);
    // Without credentials the API shows no token.
    expect((await fetch(`${h.berth.url}/api/v1/apps/${h.app}/environments/pr-2/access-token`)).status).toBe(401);
  });

  it("shows the token to a dashboard session of a writer, not of a reader", async () => {
    const signIn = async (login: string): Promise<Browser> => {
      h.github.people.signedIn = login;
      const b = new Browser(h.ingressPort);
      await b.open(`${h.berth.url}/login?next=/apps/${h.app}`);
      return b;
    };
    const carol = await signIn("carol");
    const page = await carol.open(`${h.berth.url}/apps/${h.app}`);
    expect(page.last.body).toContain(`href="/api/v1/apps/${h.app}/environments/pr-2/access-token"`);
    const shown = await carol.request(`${h.berth.url}/api/v1/apps/${h.app}/environments/pr-2/access-token`);
    expect(shown.status).toBe(200);
    expect(JSON.parse(shown.body).token).toBe((await api("GET", "/environments/pr-2/access-token")).body.token);
    // A POST from a session without the page's CSRF token rotates nothing.
    const forged = await fetch(`${h.berth.url}/api/v1/apps/${h.app}/environments/pr-2/access-token`, { method: "POST", headers: { cookie: `berth_session=${carol.jar.get("127.0.0.1")?.get("berth_session")}` } });
    expect(forged.status).toBe(403);
    const alice = await signIn("alice");
    expect((await alice.open(`${h.berth.url}/apps/${h.app}`)).last.body).not.toContain("access-token");
    expect((await alice.request(`${h.berth.url}/api/v1/apps/${h.app}/environments/pr-2/access-token`)).status).toBe(403);
  });

  it("keeps a sleeping protected preview asleep for an anonymous request, and wakes it for the token", async () => {
    expect((await api("POST", "/environments/pr-2/sleep")).status).toBe(200);
    const filters = JSON.stringify({ label: [`berth.app=${h.app}`, "berth.environment=pr-2"] });
    await waitFor("pr-2 stopped", async () => (await docker.listContainers({ filters })).length === 0, 30_000, 200);
    const refused = await anonymous(2, "/", { accept: "*/*" });
    expect(refused.status).toBe(401);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api("GET", "/environments/pr-2")).body.state).toBe("sleeping");
    expect((await docker.listContainers({ filters })).length).toBe(0);
    const token = String((await api("GET", "/environments/pr-2/access-token")).body.token);
    const woken = await anonymous(2, "/cgi-bin/echo.cgi", { "x-berth-preview-token": token, cookie: "theirs=kept", accept: "*/*" });
    expect(woken.status).toBe(200);
    expect(woken.body).toContain("cookie=theirs=kept");
    expect(woken.body).toContain("token=\n");
  }, 120_000);
});

// Under HTTPS (BERTH_TLS=internal, berth itself behind the same proxy): the preview's cookie is
// __Host-, Secure, HttpOnly, SameSite=Lax and host-only; berth's session cookie stays on berth's host.
describe("protected previews over HTTPS", () => {
  let h: Harness;
  let httpsPort: number;
  const self = "berth-self.localhost";

  beforeAll(async () => {
    httpsPort = await freePort();
    h = await startHarness({ BERTH_TLS: "internal", BERTH_INGRESS_HTTPS_PORT: String(httpsPort), BERTH_PUBLIC_URL: `https://${self}:${httpsPort}`, BERTH_RECONCILE_INTERVAL: "2" }, 4);
    h.facts.private = true;
    h.github.people.addUser("alice", { [`${h.facts.owner}/${h.facts.name}`]: "read" });
    h.repo.commit({ "index.html": "base\n" }, "base");
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  });

  it("logs a reader in with a __Host- cookie and serves the app by SNI", async () => {
    const sha = h.repo.commitToPull(5, ECHO_APP("private over https\n"));
    expect((await h.pull({ action: "opened", number: 5, head: sha })).status).toBe(200);
    const url = `https://${h.app}-pr-5.localhost:${httpsPort}/cgi-bin/echo.cgi`;
    await waitFor("login asked", async () => (await new Browser(h.ingressPort, httpsPort).request(url).catch(() => undefined))?.status === 302, 120_000, 200);
    h.github.people.signedIn = "alice";
    const alice = new Browser(h.ingressPort, httpsPort);
    const { hops, last } = await alice.open(url);
    expect(last.status).toBe(200);
    expect(hops[1]).toMatch(new RegExp(`^https://${self}:${httpsPort}/preview-login\\?`));
    expect(last.body).not.toMatch(/berth_/);
    const preview = alice.setCookies.find((c) => c.header.startsWith("__Host-berth_preview="));
    expect(preview?.hostname).toBe(`${h.app}-pr-5.localhost`);
    expect(preview?.header).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/);
    expect(preview?.header).not.toMatch(/Domain=/i);
    expect(alice.setCookies.find((c) => c.header.startsWith("__Host-berth_session="))?.hostname).toBe(self);
  }, 180_000);
});

async function caddyfileOf(container: string): Promise<string> {
  const exec = await docker.getContainer(container).exec({ Cmd: ["cat", "/etc/caddy/Caddyfile"], AttachStdout: true });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise((resolve) => {
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", resolve);
  });
  return Buffer.concat(chunks).toString("utf8");
}
