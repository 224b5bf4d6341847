import { sql } from "kysely";
import type { Clock } from "../core/clock.js";
import type { Db, Deployment } from "./db.js";

/** The phases of a deployment, in the order they happen. */
export const PHASES = [
  "received",
  "queued",
  "fetch_started",
  "fetch_done",
  "build_started",
  "build_done",
  "image_ready",
  "container_started",
  "healthy",
  "route_switched",
  "first_served",
  "drained",
] as const;
export type Phase = (typeof PHASES)[number];
/** When each phase happened, ms since the epoch; a phase not reached (yet) is absent. */
export type Phases = Partial<Record<Phase, number>>;

const LABELS: Record<Phase, string> = {
  received: "webhook received",
  queued: "queued for build",
  fetch_started: "fetch started",
  fetch_done: "fetch done",
  build_started: "build started",
  build_done: "build done",
  image_ready: "image ready on the server",
  container_started: "container started",
  healthy: "healthy",
  route_switched: "route switched",
  first_served: "first served through the proxy",
  drained: "old release drained",
};

/**
 * Stamps phases with the injected clock and writes them in one statement when flushed, so timing a
 * deployment adds one round trip to Postgres per flush rather than one per phase.
 */
export class PhaseRecorder {
  #pending: Phases = {};

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly deploymentId: number,
  ) {}

  /** Notes that the phase happens now; written on the next flush. A phase seen twice (a retry) keeps the latest time. */
  mark(phase: Phase): this {
    this.#pending[phase] = this.clock.now();
    return this;
  }

  /** Writes what was marked since the last flush; nothing when nothing was. */
  async flush(): Promise<void> {
    if (Object.keys(this.#pending).length === 0) return;
    const stamps = JSON.stringify(this.#pending);
    this.#pending = {};
    await sql`update deployments set phases = phases || ${stamps}::jsonb where id = ${this.deploymentId}`.execute(this.db);
  }
}

/** The SQL fragment that merges one phase stamp into a row's phases, for statements that already update the row. */
export function phaseStamp(phase: Phase, at: number) {
  return sql<never>`phases || jsonb_build_object(${phase}::text, ${at}::bigint)`;
}

/** One row of a deployment's timeline: a phase reached, when, and how long after the one before it and after the webhook. */
export interface PhaseStep {
  phase: Phase;
  label: string;
  at: number;
  /** ms since the previous phase reached (0 for the first). */
  sincePrevious: number;
  /** ms since the first phase reached. */
  sinceStart: number;
}

/** The phases reached, in phase order, with the time each took. */
export function phaseTimeline(phases: Phases): PhaseStep[] {
  const steps: PhaseStep[] = [];
  for (const phase of PHASES) {
    const at = phases[phase];
    if (typeof at !== "number") continue;
    const prev = steps[steps.length - 1];
    const first = steps[0];
    steps.push({ phase, label: LABELS[phase], at, sincePrevious: prev ? at - prev.at : 0, sinceStart: first ? at - first.at : 0 });
  }
  return steps;
}

/**
 * Build time (fetch started → image built) and release time (image built → first request served
 * through the proxy, or the route switch when the probe did not see it), in seconds to one decimal.
 */
export function phaseSummary(phases: Phases): { buildSeconds: number; releaseSeconds: number } {
  const between = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? 0 : Math.round((b - a) / 100) / 10);
  return {
    buildSeconds: between(phases.fetch_started, phases.build_done),
    releaseSeconds: between(phases.build_done, phases.first_served ?? phases.route_switched),
  };
}

/** The success summary's figures: from the phase timings, or the state timestamps where a phase was not timed (a rollback builds nothing). */
export function releaseTimes(d: Pick<Deployment, "phases" | "started_at" | "built_at" | "finished_at">): { buildSeconds: number; releaseSeconds: number } {
  const timed = phaseSummary(d.phases);
  return {
    buildSeconds: d.phases.build_done !== undefined ? timed.buildSeconds : secondsBetween(d.started_at, d.built_at),
    releaseSeconds: d.phases.build_done !== undefined ? timed.releaseSeconds : secondsBetween(d.built_at, d.finished_at),
  };
}

function secondsBetween(a: Date | null, b: Date | null): number {
  if (!a || !b) return 0;
  return Math.round((b.getTime() - a.getTime()) / 100) / 10;
}
