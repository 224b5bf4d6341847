import { existsSync, readFileSync } from "node:fs";
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

const cache = new Map<string, Handlebars.TemplateDelegate>();

/**
 * Renders templates/<name>.hbs. HTML templates (`*.html`) escape their values; the rest (Caddyfile,
 * Markdown for GitHub) are rendered verbatim, so their callers pass only values they have validated.
 */
export function render(name: string, data: object): string {
  let template = cache.get(name);
  if (!template) {
    if (!TEMPLATE_DIR) throw new Error(`templates/ folder not found next to ${here}`);
    const source = readFileSync(join(TEMPLATE_DIR, `${name}.hbs`), "utf8");
    template = hb.compile(source, { noEscape: !name.endsWith(".html"), strict: false });
    cache.set(name, template);
  }
  return template(data);
}
