import { LABEL_KEY, LABEL_VALUE, MAX_LABELS, SERVER_NAME } from "../core/server-names.js";
import { atMostEntries, describe, fields, isMapping, type Read } from "./reader.js";
import type { Placement } from "./types.js";

const serverName: Read<string> = (ctx, path, raw) => {
  if (typeof raw === "string" && SERVER_NAME.test(raw)) return raw;
  return ctx.fail(path, `expected a server's name as \`berth servers list\` shows it (local, or like droid-1); got ${describe(raw)}`);
};

const labels: Read<Record<string, string>> = (ctx, path, raw) => {
  if (!isMapping(raw)) return ctx.fail(path, `expected a mapping of server labels, such as { region: eu }; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_LABELS, "labels")) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const value = typeof v === "number" || typeof v === "boolean" ? String(v) : v;
    if (!LABEL_KEY.test(k)) ctx.fail([...path, k], "a label key is lower case letters, digits and . _ / - (at most 63)");
    else if (typeof value !== "string" || !LABEL_VALUE.test(value)) ctx.fail([...path, k], `expected letters, digits and . _ - (at most 63); got ${describe(v)}`);
    else out[k] = value;
  }
  return out;
};

/**
 * `placement: { server: NAME }` or `placement: { labels: { region: eu } }`: where an environment may
 * live. Checked against the registered servers at placement time, not here (servers come and go).
 */
export const placement: Read<Placement> = (ctx, path, raw) => {
  const f = fields(ctx, path, raw, { server: serverName, labels });
  if (!f) return undefined;
  return { ...(f.server !== undefined ? { server: f.server } : {}), labels: f.labels ?? {} };
};
