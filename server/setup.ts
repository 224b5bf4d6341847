import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import type { Logger } from "../core/logger.js";
import { sendHtml, type Route } from "./respond.js";

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
  };
}

/**
 * GitHub's App manifest flow for a berth without credentials: /setup posts the manifest to GitHub;
 * GitHub sends the user back to /setup/callback with a code that berth exchanges for the App's id,
 * private key and webhook secret, written to `github-app.env` for the next start. Mounted only while
 * no App is configured; the callback must carry the `state` this process handed out, and an existing
 * credentials file is never overwritten, so nobody else's App can be slipped in.
 */
export function setupRoutes(opts: { publicUrl: string; githubWebUrl: string; githubApiUrl: string; envFile: string; log: Logger }): Route {
  const state = randomBytes(16).toString("hex");
  const stateOk = (given: string | null): boolean => {
    const a = Buffer.from(given ?? "");
    const b = Buffer.from(state);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  return async (req, res, url) => {
    if (req.method !== "GET") return false;
    if (url.pathname === "/setup") {
      const manifest = JSON.stringify(buildManifest(opts.publicUrl));
      sendHtml(res, 200, `<!doctype html><meta charset="utf-8"><title>Register berth</title>
<body style="font:15px system-ui;margin:3rem auto;max-width:40rem">
<h1>Register berth as a GitHub App</h1>
<p>GitHub creates the App with the permissions and events berth needs and sends you back here.</p>
<form action="${escape(opts.githubWebUrl)}/settings/apps/new?state=${state}" method="post">
<input type="hidden" name="manifest" value="${escape(manifest)}">
<button type="submit">Register on GitHub</button></form></body>`);
      return true;
    }
    if (url.pathname === "/setup/callback") {
      const code = url.searchParams.get("code") ?? "";
      if (!stateOk(url.searchParams.get("state"))) {
        sendHtml(res, 403, "<p>This registration was not started here (state mismatch): start again at <a href=\"/setup\">/setup</a>.</p>");
        return true;
      }
      if (!/^[\w-]+$/.test(code)) {
        sendHtml(res, 400, "<p>Missing <code>code</code>: start again at <a href=\"/setup\">/setup</a>.</p>");
        return true;
      }
      const r = await fetch(`${opts.githubApiUrl}/app-manifests/${code}/conversions`, { method: "POST", headers: { accept: "application/vnd.github+json" } });
      if (!r.ok) {
        sendHtml(res, 502, `<p>GitHub refused the manifest code (HTTP ${r.status}). Codes expire after an hour: <a href="/setup">start again</a>.</p>`);
        return true;
      }
      const app = (await r.json()) as { id: number; pem: string; webhook_secret: string; html_url: string };
      const env = `APP_ID=${app.id}\nWEBHOOK_SECRET=${app.webhook_secret}\nPRIVATE_KEY="${app.pem.replace(/\n/g, "\\n")}"\n`;
      try {
        await writeFile(opts.envFile, env, { mode: 0o600, flag: "wx" });
      } catch {
        sendHtml(res, 409, `<p>${escape(opts.envFile)} already exists; berth does not overwrite App credentials. Remove it first if you mean to replace them.</p>`);
        return true;
      }
      opts.log.info({ appId: app.id, file: opts.envFile }, "GitHub App registered");
      sendHtml(res, 200, `<p>Registered App ${app.id}. Its credentials are in <code>${escape(opts.envFile)}</code>: load them into berth's environment and restart, then <a href="${escape(app.html_url)}/installations/new">install the App</a> on your repositories.</p>`);
      return true;
    }
    return false;
  };
}
