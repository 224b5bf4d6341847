import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { Sensitive } from "../core/sensitive.js";

export const BUILD_QUEUE = "berth-build";
export const RELEASE_QUEUE = "berth-release";
export const TEARDOWN_QUEUE = "berth-teardown";

/** Remove an environment (a closed pull request's preview). */
export interface TeardownJob {
  appId: number;
  environment: string;
  state: "removed" | "expired";
  note: string;
}

/** A job names its deployment; everything else is read from Postgres, the source of truth. */
export interface DeploymentJob {
  deploymentId: number;
  sha: string;
}

/** Retries are for infrastructure trouble only; user errors complete the job as failed on the first try. */
export const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: "exponential", delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600 },
} as const;

/**
 * How a worker proves it is alive. BullMQ's defaults (and the 60 s lock berth used) left a job whose
 * worker was killed active for over a minute before another worker took it back. A short lock renewed
 * three times per lock period keeps one missed renewal harmless, and a stalled check every 2 s puts a
 * dead worker's job back in line within about lock + 2 checks (~10 s) of its last renewal. The cost: a
 * process whose event loop stalls for 6 s loses its job to another worker (BullMQ's own stall rule).
 */
export const WORKER_LIVENESS = { lockDuration: 6_000, lockRenewTime: 2_000, stalledInterval: 2_000 } as const;

/** A Redis connection as BullMQ wants it for blocking commands. */
export function createRedis(url: Sensitive, onError?: (err: Error) => void): Redis {
  const client = new Redis(url.unwrap(), { maxRetriesPerRequest: null, enableReadyCheck: true });
  // ioredis reconnects by itself; without a listener every failed attempt while Redis is down is an
  // "Unhandled error event" on stderr instead of a line in berth's log.
  if (onError) client.on("error", onError);
  return client;
}

export interface Queues {
  build: Queue<DeploymentJob>;
  release: Queue<DeploymentJob>;
  teardown: Queue<TeardownJob>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis): Queues {
  const build = new Queue<DeploymentJob>(BUILD_QUEUE, { connection, defaultJobOptions: JOB_OPTIONS });
  const release = new Queue<DeploymentJob>(RELEASE_QUEUE, { connection, defaultJobOptions: JOB_OPTIONS });
  const teardown = new Queue<TeardownJob>(TEARDOWN_QUEUE, { connection, defaultJobOptions: JOB_OPTIONS });
  return {
    build,
    release,
    teardown,
    close: async () => {
      await Promise.all([build.close(), release.close(), teardown.close()]);
    },
  };
}

/**
 * Job ids derive from the deployment, so enqueueing the same deployment twice is a no-op. The sha is
 * part of it so that a Redis kept across a reset database never mistakes an old job for a new one.
 */
export const buildJobId = (deploymentId: number, sha: string): string => `build-${deploymentId}-${sha.slice(0, 12)}`;
export const releaseJobId = (deploymentId: number, sha: string): string => `release-${deploymentId}-${sha.slice(0, 12)}`;
