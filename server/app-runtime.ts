import type Docker from "dockerode";
import { autohealRestarts, appContainerStatus, type ContainerStatus } from "../releaser/container-status.js";
import type { Db } from "../store/db.js";
import { listDomains } from "../store/domain-store.js";
import { recentExecSessions } from "../store/exec-session-store.js";
import { LOCAL_RELEASE_SERVER } from "../store/server-store.js";
import { sleepingEnvironments } from "../store/sleep-store.js";

/** What the app page shows of an app's running side: containers, custom domains, sleeping environments. */
export interface AppRuntime {
  containers: (ContainerStatus & { server: string; autoheals: number; restarts: number })[];
  /** Servers the app runs on that berth could not ask: their containers are missing from the list. */
  unreachable: string[];
  domains: { name: string; redirectTo: string | null; source: string; state: "routed" | "pending"; problem: string | null; record: string; checkedAt: Date | null }[];
  sleeping: Set<string>;
  /** The latest terminal sessions into the app's containers (the exec audit trail). */
  sessions: Awaited<ReturnType<typeof recentExecSessions>>;
}

export interface AppRuntimeDeps {
  db: Db;
  instance: string;
  engineFor: (server: string) => Promise<Docker | undefined>;
  /** The app's production hostname (a CNAME's target) and BERTH_INGRESS_ADDRESSES (an apex's A/AAAA). */
  ingress: (app: string) => { appHost: string; addresses: string[] };
}

/** The DNS record that routes a custom domain to berth, as the reconciler's check wants it. */
export function recordToAdd(name: string, appHost: string, addresses: readonly string[]): string {
  const cname = `${name}. CNAME ${appHost}.`;
  if (addresses.length === 0) return cname;
  const apex = addresses.map((a) => `${name}. ${a.includes(":") ? "AAAA" : "A"} ${a}`).join(", ");
  return `${cname} (or, for an apex domain: ${apex})`;
}

/** The app's containers on every server it has live releases on (health, Docker's and autoheal's restarts), its domains and sleep. */
export async function appRuntime(deps: AppRuntimeDeps, app: { id: number; name: string; publicName: string }): Promise<AppRuntime> {
  const { db } = deps;
  const live = await db.selectFrom("releases").select(["server", "deployment_id"]).where("app_id", "=", app.id).where("state", "=", "live").execute();
  const servers = [...new Set([LOCAL_RELEASE_SERVER, ...live.map((r) => r.server)])];
  const unreachable: string[] = [];
  const perServer = await Promise.all(
    servers.map(async (server) => {
      const docker = await deps.engineFor(server);
      const found = docker ? await appContainerStatus(docker, deps.instance, app.name).catch(() => undefined) : undefined;
      if (!found) unreachable.push(server);
      return (found ?? []).map((c) => ({ ...c, server }));
    }),
  );
  const ids = [...new Set(live.map((r) => r.deployment_id))];
  const chunks = ids.length
    ? await db.selectFrom("build_logs").select("chunk").where("deployment_id", "in", ids).where("chunk", "like", "%autoheal: restarted %").limit(10_000).execute()
    : [];
  const healed = autohealRestarts(chunks.map((c) => c.chunk));
  const containers = perServer.flat().map((c) => ({ ...c, autoheals: healed.get(c.name) ?? 0, restarts: c.restartCount + (healed.get(c.name) ?? 0) }));
  const { appHost, addresses } = deps.ingress(app.publicName);
  const domains = (await listDomains(db, app.id)).map((d) => ({
    name: d.name,
    redirectTo: d.redirect_to,
    source: d.source,
    state: d.verified ? ("routed" as const) : ("pending" as const),
    problem: d.problem,
    record: recordToAdd(d.name, appHost, addresses),
    checkedAt: d.checked_at,
  }));
  return { containers, unreachable: unreachable.filter((s) => s !== LOCAL_RELEASE_SERVER || live.some((r) => r.server === s)), domains, sleeping: new Set(await sleepingEnvironments(db, app.id)), sessions: await recentExecSessions(db, app.id) };
}
