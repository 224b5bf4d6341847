import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { render } from "../core/templates.js";
import { sendHtml } from "./respond.js";

const hashes = new Map<string, string>();

/**
 * The Content-Security-Policy of a rendered page: its own inline scripts by hash and nothing else
 * (no script an injected value could bring), styles inline, requests and forms to berth only, never
 * framed. The scripts are the templates' own, fixed text, so each hash is computed once.
 */
export function pagePolicy(html: string): string {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => {
    const body = m[1]!;
    let h = hashes.get(body);
    if (!h) hashes.set(body, (h = `'sha256-${createHash("sha256").update(body).digest("base64")}'`));
    return h;
  });
  // Pages that load berth's own static files (the terminal's xterm.js and its stylesheet) allow 'self' for them.
  const own = /<(script src|link rel="stylesheet" href)="\/assets\//.test(html) ? ["'self'"] : [];
  const sources = [...own, ...scripts];
  return [
    "default-src 'none'",
    `script-src ${sources.length ? sources.join(" ") : "'none'"}`,
    `style-src ${[...own, "'unsafe-inline'"].join(" ")}`,
    "connect-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Renders a dashboard page and sends it with its policy: no framing, no referrer off-site. */
export function sendPage(res: ServerResponse, status: number, template: string, data: object): void {
  const html = render(template, data);
  res.setHeader("content-security-policy", pagePolicy(html));
  res.setHeader("x-frame-options", "DENY");
  res.setHeader("referrer-policy", "same-origin");
  res.setHeader("x-content-type-options", "nosniff");
  sendHtml(res, status, html);
}
