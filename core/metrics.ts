import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What berth's stores say at scrape time: counted where the state lives, so every process agrees. */
export interface MetricsSnapshot {
  deployments: { state: string; kind: "production" | "preview"; count: number }[];
  environments: { state: string; count: number }[];
  queues: { queue: string; state: string; count: number }[];
  /** Webhook deliveries recorded but not yet worked off. */
  inboxPending: number;
  /** Age of the oldest deployment waiting for a build slot, 0 when none waits. */
  oldestQueuedSeconds: number;
}

/** The phases whose durations are observed: segment name → [from, to] of the deployment's phase stamps. */
export const PHASE_SEGMENTS = {
  queue_wait: ["queued", "fetch_started"],
  fetch: ["fetch_started", "fetch_done"],
  build: ["build_started", "build_done"],
  image: ["build_done", "image_ready"],
  start: ["image_ready", "healthy"],
  switch: ["healthy", "route_switched"],
  first_served: ["route_switched", "first_served"],
  drain: ["first_served", "drained"],
  push_to_live: ["received", "first_served"],
} as const satisfies Record<string, readonly [string, string]>;

const KNOWN_EVENTS = new Set(["push", "pull_request", "check_run", "installation", "installation_repositories", "ping"]);
const REPAIRS = ["closed", "expired", "tornDown", "strays", "healed", "drained", "resent"] as const;

/**
 * berth's Prometheus metrics (prom-client). Counters and histograms are this process's own; gauges of
 * deployments, environments, queues and the webhook inbox are read from Postgres and Redis when
 * scraped. Every label has a fixed, small set of values: no app names, shas or ids.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #webhookAnswer = new Histogram({
    name: "berth_webhook_answer_seconds",
    help: "Time from a webhook request to berth's answer, by event and status class.",
    labelNames: ["event", "status"] as const,
    buckets: [0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly #webhookRecord = new Histogram({
    name: "berth_webhook_record_seconds",
    help: "Time to write a verified webhook delivery to berth's journal (the part of its answer spent recording it).",
    buckets: [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly #phase = new Histogram({
    name: "berth_deployment_phase_seconds",
    help: "Duration of each phase of deployments that went live, by phase and environment kind.",
    labelNames: ["phase", "kind"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });
  readonly #passes = new Counter({ name: "berth_reconciler_passes_total", help: "Reconciler passes, by result.", labelNames: ["result"] as const, registers: [this.registry] });
  readonly #repairs = new Counter({ name: "berth_reconciler_repairs_total", help: "What reconciler passes repaired, by kind.", labelNames: ["kind"] as const, registers: [this.registry] });
  readonly #autoheal = new Counter({ name: "berth_autoheal_restarts_total", help: "Containers restarted by autoheal.", registers: [this.registry] });
  readonly #sleeps = new Counter({ name: "berth_environment_sleeps_total", help: "Environments put to sleep, by reason (idle or api).", labelNames: ["reason"] as const, registers: [this.registry] });
  readonly #wakes = new Counter({ name: "berth_environment_wakes_total", help: "Sleeping environments woken, by trigger (request or api).", labelNames: ["trigger"] as const, registers: [this.registry] });
  readonly #wakeSeconds = new Histogram({
    name: "berth_environment_wake_seconds",
    help: "Time to wake a sleeping environment: containers started until healthy and routed again.",
    buckets: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(snapshot?: () => Promise<MetricsSnapshot>) {
    // How late this process's event loop ran since the last scrape: every answer waits on it.
    // The histogram counts from the timer's own interval: what it says past that is the delay.
    const RESOLUTION_MS = 10;
    const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    loop.enable();
    const late = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000;
    new Gauge({
      name: "berth_event_loop_delay_seconds",
      help: "How late this process's event loop ran since the previous scrape, by quantile (0.5, 0.99, 1 for the maximum).",
      labelNames: ["quantile"],
      registers: [this.registry],
      collect() {
        this.set({ quantile: "0.5" }, late(loop.percentile(50)));
        this.set({ quantile: "0.99" }, late(loop.percentile(99)));
        this.set({ quantile: "1" }, late(loop.max));
        loop.reset();
      },
    });
    // One snapshot per scrape: the first gauge collected reads it, the others share it.
    let current: Promise<MetricsSnapshot> | undefined;
    const read = (first: boolean): Promise<MetricsSnapshot> | undefined => {
      if (!snapshot) return undefined;
      if (first || !current) current = snapshot();
      return current;
    };
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: MetricsSnapshot) => void, first = false) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          const s = await read(first);
          if (!s) return;
          this.reset();
          fill(this, s);
        },
      });
    gauge("berth_deployments", "Deployments by state and environment kind (final states count outcomes).", ["state", "kind"], (g, s) => s.deployments.forEach((d) => g.set({ state: d.state, kind: d.kind }, d.count)), true);
    gauge("berth_environments", "Environments by state.", ["state"], (g, s) => s.environments.forEach((e) => g.set({ state: e.state }, e.count)));
    gauge("berth_queue_jobs", "BullMQ jobs by queue and state.", ["queue", "state"], (g, s) => s.queues.forEach((q) => g.set({ queue: q.queue, state: q.state }, q.count)));
    gauge("berth_webhook_inbox_pending", "Webhook deliveries recorded and not yet processed.", [], (g, s) => g.set(s.inboxPending));
    gauge("berth_build_queue_oldest_seconds", "Age of the oldest deployment waiting for a build slot.", [], (g, s) => g.set(s.oldestQueuedSeconds));
  }

  webhookAnswered(event: string | undefined, status: number, seconds: number): void {
    this.#webhookAnswer.observe({ event: event && KNOWN_EVENTS.has(event) ? event : "other", status: `${Math.floor(status / 100)}xx` }, seconds);
  }

  webhookRecorded(seconds: number): void {
    this.#webhookRecord.observe(seconds);
  }

  /** A deployment went live: each of its phases' durations (ms stamps since the epoch). */
  wentLive(environment: string, phases: Readonly<Record<string, number | undefined>>): void {
    const kind = environment === "production" ? "production" : "preview";
    for (const [phase, [from, to]] of Object.entries(PHASE_SEGMENTS)) {
      const a = phases[from];
      const b = phases[to];
      if (a !== undefined && b !== undefined && b >= a) this.#phase.observe({ phase, kind }, (b - a) / 1000);
    }
  }

  /** A reconciler pass: what it repaired (lists of what it touched), or that it failed. */
  reconcilerPass(report: Partial<Record<(typeof REPAIRS)[number], readonly unknown[]>> | "failed"): void {
    if (report === "failed") return void this.#passes.inc({ result: "failed" });
    this.#passes.inc({ result: "ok" });
    for (const kind of REPAIRS) {
      const n = report[kind]?.length ?? 0;
      if (n > 0) this.#repairs.inc({ kind }, n);
    }
    if (report.healed?.length) this.#autoheal.inc(report.healed.length);
  }

  /** An environment fell asleep. */
  slept(reason: "idle" | "api"): void {
    this.#sleeps.inc({ reason });
  }

  /** A sleeping environment woke, taking this long. */
  woke(trigger: "request" | "api", seconds: number): void {
    this.#wakes.inc({ trigger });
    this.#wakeSeconds.observe(seconds);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
