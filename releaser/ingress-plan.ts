import { render } from "../core/templates.js";

export interface Route {
  hostname: string;
  upstream: string;
}

export interface IngressConfig {
  tls: boolean;
  sites: { hostname: string; upstreams: string[] }[];
}

/** Plans the whole ingress config from every live route: one site per hostname, in a stable order. */
export function planIngress(routes: readonly Route[], tls: boolean): IngressConfig {
  const byHost = new Map<string, Set<string>>();
  for (const r of routes) {
    if (!/^[a-z0-9.-]+$/.test(r.hostname) || !/^[a-z0-9.:[\]-]+$/i.test(r.upstream)) {
      throw new Error(`refusing to route ${JSON.stringify(r)}: hostname or upstream has characters a Caddyfile cannot hold`);
    }
    const set = byHost.get(r.hostname) ?? new Set<string>();
    set.add(r.upstream);
    byHost.set(r.hostname, set);
  }
  return {
    tls,
    sites: [...byHost.keys()].sort().map((hostname) => ({ hostname, upstreams: [...(byHost.get(hostname) ?? [])].sort() })),
  };
}

/** Renders an IngressConfig as a Caddyfile (templates/Caddyfile.hbs). */
export function renderCaddyfile(config: IngressConfig): string {
  return render("Caddyfile", config);
}
