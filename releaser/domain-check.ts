import { Resolver } from "node:dns/promises";

/** The DNS lookups a domain check makes; node's resolver, or a fake in tests. */
export interface DomainResolver {
  cname(name: string): Promise<string[]>;
  addresses(name: string): Promise<string[]>;
}

/** What a domain must point at: a hostname under BERTH_DOMAIN, or only addresses of berth's ingress. */
export interface IngressTarget {
  /** The app's production hostname, `<app>.<BERTH_DOMAIN>`: what a CNAME should name. */
  appHost: string;
  /** BERTH_DOMAIN: a CNAME to any hostname under it reaches berth's ingress. */
  domain: string;
  /** BERTH_INGRESS_ADDRESSES: A/AAAA records must all be among them. */
  addresses: readonly string[];
  /** Hostnames berth serves itself outside BERTH_DOMAIN (BERTH_PUBLIC_URL's): never an app's domain. */
  reserved?: readonly string[];
}

/** How long one domain's lookups may take in all. */
export const DNS_TIMEOUT_MS = 3000;

const bare = (name: string): string => name.toLowerCase().replace(/\.$/, "");

/**
 * Whether a domain's DNS sends it to berth: a CNAME to a hostname under BERTH_DOMAIN, or A/AAAA
 * records all within BERTH_INGRESS_ADDRESSES. Otherwise the record to add, said exactly.
 */
export async function checkDomain(name: string, target: IngressTarget, dns: DomainResolver): Promise<{ verified: true } | { verified: false; problem: string }> {
  const under = (host: string): boolean => host === bare(target.domain) || host.endsWith(`.${bare(target.domain)}`);
  // berth's own names: BERTH_DOMAIN and every app and preview hostname under it, and berth's own host.
  // Routed as an app's domain, such a name would share (or take) that host's traffic and cookies.
  if (under(bare(name)) || (target.reserved ?? []).includes(bare(name))) {
    return { verified: false, problem: `${name} is a hostname berth serves itself (BERTH_DOMAIN ${target.domain}, its apps and previews, or berth's own): it cannot be an app's custom domain.` };
  }
  const want = target.addresses.length > 0
    ? `a CNAME record ${name} → ${target.appHost} (or, for an apex domain, A/AAAA records to ${target.addresses.join(", ")})`
    : `a CNAME record ${name} → ${target.appHost}`;
  let cnames: string[] = [];
  let addresses: string[] = [];
  try {
    cnames = (await dns.cname(name).catch(noRecords)).map(bare);
    if (cnames.some(under)) return { verified: true };
    addresses = await dns.addresses(name).catch(noRecords);
  } catch (e) {
    return { verified: false, problem: `DNS lookup of ${name} failed (${(e as Error).message}). Add ${want}.` };
  }
  if (addresses.length > 0 && target.addresses.length > 0 && addresses.every((a) => target.addresses.includes(a))) return { verified: true };
  const now = cnames.length > 0 ? `it is a CNAME to ${cnames.join(", ")}` : addresses.length > 0 ? `it points at ${addresses.join(", ")}` : "it has no A, AAAA or CNAME record";
  return { verified: false, problem: `${name} does not point at berth yet: ${now}. Add ${want}.` };
}

/** A name with no records of a kind is an empty answer, not a failure. */
function noRecords(e: NodeJS.ErrnoException): string[] {
  if (e.code === "ENODATA" || e.code === "ENOTFOUND" || e.code === "NOTFOUND" || e.code === "ENONAME") return [];
  throw e;
}

/** Node's resolver, against BERTH_DNS_SERVER (host:port) when set, else the system's; each query bounded. */
export function systemResolver(server?: string): DomainResolver {
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 });
  if (server) resolver.setServers([server]);
  return {
    cname: (name) => resolver.resolveCname(name),
    addresses: async (name) => {
      const [v4, v6] = await Promise.all([resolver.resolve4(name).catch(noRecords), resolver.resolve6(name).catch(noRecords)]);
      return [...v4, ...v6];
    },
  };
}
