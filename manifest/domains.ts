import { atMostEntries, describe, fields, isMapping, type Read } from "./reader.js";
import type { DomainSetting } from "./types.js";

/** At most this many custom domains per app. */
export const MAX_DOMAINS = 20;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** A public DNS name of two labels or more, lower case, at most 253 characters, no wildcard. */
export const DOMAIN_NAME = new RegExp(`^(?=.{4,253}$)${LABEL}(?:\\.${LABEL})+$`);

const domainName: Read<string> = (ctx, path, raw) => {
  if (typeof raw === "string" && DOMAIN_NAME.test(raw) && !/^\d+(\.\d+)*$/.test(raw)) return raw;
  return ctx.fail(path, `expected a domain name such as shop.example.com (lower case, no scheme, port, path or wildcard); got ${describe(raw)}`);
};

/**
 * `domains: [shop.example.com, { name: www.shop.example.com, redirect_to: shop.example.com }]`:
 * production's own domains, each routed once its DNS points at berth; one may redirect to another.
 */
export const domains: Read<DomainSetting[]> = (ctx, path, raw) => {
  if (!Array.isArray(raw)) return ctx.fail(path, `expected a list of domain names, such as [shop.example.com]; got ${describe(raw)}`);
  if (!atMostEntries(ctx, path, raw, MAX_DOMAINS, "domains")) return undefined;
  const out: DomainSetting[] = [];
  raw.forEach((item, i) => {
    const at = [...path, i];
    const entry = isMapping(item) ? fields(ctx, at, item, { name: domainName, redirect_to: domainName }) : { name: domainName(ctx, at, item) };
    if (!entry?.name) return;
    if (out.some((d) => d.name === entry.name)) return void ctx.fail(at, `${entry.name} is listed twice`);
    out.push({ name: entry.name, ...("redirect_to" in entry && entry.redirect_to ? { redirectTo: entry.redirect_to } : {}) });
  });
  for (const [i, d] of out.entries()) {
    if (!d.redirectTo) continue;
    const target = out.find((t) => t.name === d.redirectTo);
    if (!target || target.redirectTo) ctx.fail([...path, i, "redirect_to"], `expected another domain of this list that serves the app itself; got ${d.redirectTo}`);
  }
  return out;
};
