import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import type { Logger } from "../core/logger.js";
import { readForm, sendHtml, type Route } from "./respond.js";

const here = dirname(fileURLToPath(import.meta.url));
const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** app.yml with this berth's own URLs filled in, as GitHub's manifest flow takes it. */
export function buildManifest(publicUrl: string): Record<string, unknown> {
  const file = [join(here, "..", "app.yml"), join(here, "..", "..", "app.yml")].find((p) => {
    try {
      readFileSync(p);
      return true;
    } catch {
      return false;
    }
  });
  const manifest = (file ? yaml.load(readFileSync(file, "utf8")) : {}) as Record<string, unknown>;
  return {
    ...manifest,
    url: publicUrl,
    hook_attributes: { url: `${publicUrl}/api/github/webhooks`, active: true },
    redirect_url: `${publicUrl}/setup/callback`,
    // Where GitHub sends a user back after "Log in with GitHub" (the dashboard's OAuth web flow).
    callback_urls: [`${publicUrl}/login/callback`],
  };
}

/** Wrong setup codes accepted before /setup locks until berth restarts (and prints a new code). */
const MAX_CODE_TRIES = 10;

/**
 * GitHub's App manifest flow for a berth without credentials: /setup asks for the one-time setup
 * code berth printed in its log at start (so the first stranger to find the page cannot register an
 * App of theirs), then posts the manifest to GitHub; GitHub sends the user back to /setup/callback
 * with a code that berth exchanges for the App's id, private key and webhook secret, written to
 * `github-app.env` for the next start. Mounted only while no App is configured and gone once one was
 * registered; the callback must carry the `state` handed out only after the setup code, and an
 * existing credentials file is never overwritten.
 */
export function setupRoutes(opts: { publicUrl: string; githubWebUrl: string; githubApiUrl: string; envFile: string; log: Logger; setupCode?: string }): Route {
  const state = randomBytes(16).toString("hex");
  const setupCode = opts.setupCode ?? randomBytes(8).toString("hex");
  opts.log.warn(`no GitHub App is configured: open ${opts.publicUrl}/setup and enter the setup code ${setupCode}`);
  let tries = 0;
  let done = false;
  const same = (given: string | null | undefined, want: string): boolean => {
    const a = Buffer.from(given ?? "");
    const b = Buffer.from(want);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const page = (body: string): string => `<!doctype html><meta charset="utf-8"><title>Register berth</title>
<body style="font:15px system-ui;margin:3rem auto;max-width:40rem">
<h1>Register berth as a GitHub App</h1>
${body}</body>`;
  const askCode = (note = ""): string =>
    page(`${note}<p>Enter the setup code berth printed in its log when it started (<code>no GitHub App is configured: … setup code …</code>).</p>
<form method="post" action="/setup"><label>Setup code <input name="code" autocomplete="off" required></label> <button type="submit">Continue</button></form>`);
  return async (req, res, url) => {
    if (url.pathname !== "/setup" && url.pathname !== "/setup/callback") return false;
    if (done) {
      sendHtml(res, 410, page("<p>A GitHub App was registered: restart berth with its credentials. Setup is closed.</p>"));
      return true;
    }
    if (url.pathname === "/setup" && req.method === "GET") {
      sendHtml(res, 200, askCode());
      return true;
    }
    if (url.pathname === "/setup" && req.method === "POST") {
      if (tries >= MAX_CODE_TRIES) {
        sendHtml(res, 429, page("<p>Too many wrong setup codes. Restart berth for a new code.</p>"));
        return true;
      }
      const form = await readForm(req);
      if (!same(form?.get("code")?.trim(), setupCode)) {
        tries++;
        opts.log.warn({ tries }, "wrong setup code entered at /setup");
        sendHtml(res, 403, askCode("<p><strong>That is not the setup code.</strong></p>"));
        return true;
      }
      const manifest = JSON.stringify(buildManifest(opts.publicUrl));
      sendHtml(res, 200, page(`<p>GitHub creates the App with the permissions and events berth needs and sends you back here.</p>
<form action="${escape(opts.githubWebUrl)}/settings/apps/new?state=${state}" method="post">
<input type="hidden" name="manifest" value="${escape(manifest)}">
<button type="submit">Register on GitHub</button></form>`));
      return true;
    }
    if (url.pathname === "/setup/callback" && req.method === "GET") {
      const code = url.searchParams.get("code") ?? "";
      if (!same(url.searchParams.get("state"), state)) {
        sendHtml(res, 403, "<p>This registration was not started here (state mismatch): start again at <a href=\"/setup\">/setup</a>.</p>");
        return true;
      }
      if (!/^[\w-]{1,100}$/.test(code)) {
        sendHtml(res, 400, "<p>Missing <code>code</code>: start again at <a href=\"/setup\">/setup</a>.</p>");
        return true;
      }
      const r = await fetch(`${opts.githubApiUrl}/app-manifests/${code}/conversions`, { method: "POST", headers: { accept: "application/vnd.github+json" }, signal: AbortSignal.timeout(30_000) });
      if (!r.ok) {
        sendHtml(res, 502, `<p>GitHub refused the manifest code (HTTP ${r.status}). Codes expire after an hour: <a href="/setup">start again</a>.</p>`);
        return true;
      }
      const app = (await r.json()) as { id: number; pem: string; webhook_secret: string; html_url: string; client_id?: unknown; client_secret?: unknown };
      // The App's OAuth client signs users in to the dashboard ("Log in with GitHub").
      const oauth = typeof app.client_id === "string" && /^[\w.-]{1,100}$/.test(app.client_id) && typeof app.client_secret === "string" && /^\w{1,200}$/.test(app.client_secret)
        ? `GITHUB_CLIENT_ID=${app.client_id}\nGITHUB_CLIENT_SECRET=${app.client_secret}\n`
        : "";
      const env = `APP_ID=${Number(app.id)}\nWEBHOOK_SECRET=${app.webhook_secret}\nPRIVATE_KEY="${app.pem.replace(/\n/g, "\\n")}"\n${oauth}`;
      try {
        await writeFile(opts.envFile, env, { mode: 0o600, flag: "wx" });
      } catch {
        sendHtml(res, 409, `<p>${escape(opts.envFile)} already exists; berth does not overwrite App credentials. Remove it first if you mean to replace them.</p>`);
        return true;
      }
      done = true;
      opts.log.info({ appId: app.id, file: opts.envFile }, "GitHub App registered");
      sendHtml(res, 200, `<p>Registered App ${Number(app.id)}. Its credentials are in <code>${escape(opts.envFile)}</code>: restart berth to load them, then <a href="${escape(app.html_url)}/installations/new">install the App</a> on your repositories.</p>`);
      return true;
    }
    return false;
  };
}
