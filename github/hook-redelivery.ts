import type { Probot } from "probot";
import type { Logger } from "../core/logger.js";

/** One entry of `GET /app/hook/deliveries`: a delivery GitHub made to this App's webhook. */
export interface HookDelivery {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  event: string;
}

/** The App's webhook deliveries on GitHub, read and redelivered with the App's own JWT. */
export interface HookDeliveries {
  /** Deliveries newest first, down to (at least) those made at `since`. */
  since(since: Date): Promise<HookDelivery[]>;
  redeliver(id: number): Promise<void>;
}

const failed = (d: HookDelivery): boolean => d.status_code === 0 || d.status_code >= 400 || d.status !== "OK";

/**
 * The deliveries to ask GitHub for again, at or after `since`: those that failed, and those of
 * `events` (the ones berth records) that it answered, which it may have lost: its intake commits
 * without waiting for the disk, so a crash of Postgres or the machine loses the last moment of them
 * (the caller leaves out what is recorded). One attempt per delivery guid, none for a guid that
 * failed and then succeeded (unless answered counts) or that this process asked for already. In the
 * order of each guid's first attempt, so pushes are redelivered in the order they were made.
 */
export function pickRedeliveries(deliveries: HookDelivery[], since: Date, asked: ReadonlySet<string>, events: ReadonlySet<string> = new Set()): HookDelivery[] {
  const succeeded = new Set(deliveries.filter((d) => !failed(d)).map((d) => d.guid));
  const picked = new Map<string, { latest: HookDelivery; first: number }>();
  for (const d of deliveries) {
    const t = Date.parse(d.delivered_at);
    const answered = !failed(d) && events.has(d.event);
    if (asked.has(d.guid) || t < since.getTime()) continue;
    if (!answered && (!failed(d) || succeeded.has(d.guid))) continue;
    const seen = picked.get(d.guid);
    if (!seen) picked.set(d.guid, { latest: d, first: t });
    else picked.set(d.guid, { latest: Date.parse(seen.latest.delivered_at) >= t ? seen.latest : d, first: Math.min(seen.first, t) });
  }
  return [...picked.values()].sort((a, b) => a.first - b.first).map((p) => p.latest);
}

/** Which delivery guids berth has recorded already: a failed attempt of one of them needs no redelivery. */
export type Recorded = (guids: string[]) => Promise<ReadonlySet<string>>;

/**
 * Asks GitHub to deliver again the webhooks berth failed while it was unhealthy (Postgres away and the
 * journal full: the intake answered 5xx) or not running at all (GitHub could not connect), and those of
 * `events` it answered but lost (a journal line a machine crash took before it reached Postgres); GitHub
 * does not retry by itself. Deliveries berth recorded after all are left out. Returns the guids asked for.
 */
export async function redeliverMissed(port: HookDeliveries, since: Date, asked: Set<string>, log: Logger, recorded: Recorded = async () => new Set(), events: ReadonlySet<string> = new Set()): Promise<string[]> {
  const candidates = pickRedeliveries(await port.since(since), since, asked, events);
  const known = await recorded(candidates.map((d) => d.guid));
  const picked = candidates.filter((d) => !known.has(d.guid));
  for (const d of picked) {
    await port.redeliver(d.id);
    asked.add(d.guid);
  }
  if (picked.length) log.warn({ deliveries: picked.map((d) => `${d.event} ${d.guid}`) }, "asked GitHub to redeliver webhooks that failed or were lost while berth was unhealthy or down");
  return picked.map((d) => d.guid);
}

/** GitHub's guidance for a run of writes: about a second apart (Octokit's own pacing is off, probot-app.ts). */
const REDELIVERY_SPACING_MS = 1_000;

/** HookDeliveries through the App-authenticated Octokit (`probot.auth()` without an installation). */
export class OctokitHookDeliveries implements HookDeliveries {
  #lastAsked = 0;

  constructor(private readonly probot: Probot) {}

  async since(since: Date): Promise<HookDelivery[]> {
    const octokit = await this.probot.auth();
    const all: HookDelivery[] = [];
    for await (const page of octokit.paginate.iterator("GET /app/hook/deliveries", { per_page: 100 })) {
      const rows = page.data as HookDelivery[];
      all.push(...rows);
      if (rows.length === 0 || Date.parse(rows[rows.length - 1]!.delivered_at) < since.getTime()) break;
    }
    return all;
  }

  async redeliver(id: number): Promise<void> {
    const wait = this.#lastAsked + REDELIVERY_SPACING_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.#lastAsked = Date.now();
    const octokit = await this.probot.auth();
    await octokit.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: id });
  }
}
