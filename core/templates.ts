import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";

const here = dirname(fileURLToPath(import.meta.url));
// Source tree (core/) and compiled tree (dist/core/) both find the one templates/ at the package root.
const TEMPLATE_DIR = [join(here, "..", "templates"), join(here, "..", "..", "templates")].find((d) => existsSync(d));

const hb = Handlebars.create();
hb.registerHelper("short", (sha: unknown) => String(sha ?? "").slice(0, 7));
hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
// A Markdown code fence longer than any backtick run in the text, so a log cannot close it early.
hb.registerHelper("fence", (text: unknown) => "`".repeat(Math.max(3, ...[...String(text ?? "").matchAll(/`+/g)].map((m) => m[0].length + 1))));

/** "1m 04s", "350ms", "2h 05m": how long from one time to another; "" when either is missing. */
export function took(from: unknown, to: unknown): string {
  const a = from instanceof Date ? from.getTime() : typeof from === "number" ? from : NaN;
  const b = to instanceof Date ? to.getTime() : typeof to === "number" ? to : NaN;
  const ms = b - a;
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** "5m ago", "3d ago": a time relative to now. */
export function ago(at: unknown, now = Date.now()): string {
  const t = at instanceof Date ? at.getTime() : NaN;
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

hb.registerHelper("took", (a: unknown, b: unknown) => took(a, b));
hb.registerHelper("ago", (a: unknown) => ago(a));
hb.registerHelper("iso", (a: unknown) => (a instanceof Date ? a.toISOString().replace(/\.\d+Z$/, "Z") : ""));

const cache = new Map<string, Handlebars.TemplateDelegate>();
let partialsLoaded = false;

/** Templates named `_<name>.html.hbs` are partials (`{{> name}}`): the pages' shared head and navigation. */
function loadPartials(dir: string): void {
  for (const file of readdirSync(dir)) {
    const m = /^_(.+)\.html\.hbs$/.exec(file);
    if (m) hb.registerPartial(m[1]!, readFileSync(join(dir, file), "utf8"));
  }
  partialsLoaded = true;
}

/**
 * Renders templates/<name>.hbs. HTML templates (`*.html`) escape their values; the rest (Caddyfile,
 * Markdown for GitHub) are rendered verbatim, so their callers pass only values they have validated.
 */
export function render(name: string, data: object): string {
  let template = cache.get(name);
  if (!template) {
    if (!TEMPLATE_DIR) throw new Error(`templates/ folder not found next to ${here}`);
    if (!partialsLoaded) loadPartials(TEMPLATE_DIR);
    const source = readFileSync(join(TEMPLATE_DIR, `${name}.hbs`), "utf8");
    template = hb.compile(source, { noEscape: !name.endsWith(".html"), strict: false });
    cache.set(name, template);
  }
  return template(data);
}
