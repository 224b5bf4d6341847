import type { Logger } from "../core/logger.js";
import { hostnameFor, publicName, PRODUCTION } from "../core/names.js";
import type { Manifest } from "../manifest/manifest.js";
import type { App, Db } from "../store/db.js";
import { allDomains, listDomains, recordDomainCheck, syncDomains } from "../store/domain-store.js";
import { checkDomain, type DomainResolver } from "./domain-check.js";

/** What checking custom domains needs: DNS, BERTH_DOMAIN and the ingress addresses. */
export interface DomainDeps {
  resolver: DomainResolver;
  domain: string;
  ingressAddresses: readonly string[];
  /** berth's own hostname (BERTH_PUBLIC_URL's), when the proxy routes it. */
  reserved?: readonly string[];
}

/** At most this many domains are looked up at once in a reconciler pass. */
const PARALLEL = 8;

const targetOf = (deps: DomainDeps, app: { name: string; public_name: string | null }) => ({
  appHost: hostnameFor(publicName(app), PRODUCTION, deps.domain),
  domain: deps.domain,
  addresses: deps.ingressAddresses,
  reserved: deps.reserved,
});

/**
 * Before production's switch: makes the app's domains what its berth.yaml lists and checks each one's
 * DNS now, so that the release routes the verified ones. Returns a line per domain for the check run:
 * routed, redirected, or exactly which record to add (or which app holds it).
 */
export async function settleDomains(deps: DomainDeps, db: Db, app: App, manifest: Manifest | null | undefined): Promise<string[]> {
  const taken = await syncDomains(db, app.id, manifest?.domains ?? []);
  const rows = await listDomains(db, app.id);
  await Promise.all(rows.map(async (d) => recordDomainCheck(db, d.id, await checkDomain(d.name, targetOf(deps, app), deps.resolver))));
  const lines = taken.map((t) => `${t.name}: not routed: the app ${t.holder} has this domain; remove it there first`);
  for (const d of await listDomains(db, app.id)) {
    if (!d.verified) lines.push(`${d.name}: not routed yet: ${d.problem ?? "not checked"}`);
    else lines.push(d.redirect_to ? `${d.name}: redirects to ${d.redirect_to}` : `${d.name}: routed`);
  }
  return lines;
}

/** A reconciler pass: every domain's DNS checked again; true when any domain's routing changed. */
export async function recheckDomains(deps: DomainDeps, db: Db, log: Logger): Promise<boolean> {
  const domains = await allDomains(db);
  let changed = false;
  for (let i = 0; i < domains.length; i += PARALLEL) {
    await Promise.all(
      domains.slice(i, i + PARALLEL).map(async (d) => {
        const outcome = await checkDomain(d.name, targetOf(deps, { name: d.app_name, public_name: d.public_name }), deps.resolver);
        if (await recordDomainCheck(db, d.id, outcome)) {
          changed = true;
          log.info({ domain: d.name, app: d.public_name ?? d.app_name, verified: outcome.verified }, outcome.verified ? "custom domain verified: routing it" : "custom domain no longer points at berth: not routing it");
        }
      }),
    );
  }
  return changed;
}
