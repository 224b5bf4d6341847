/*
 * The upper bounds of berth.yaml, in one place. A manifest is written by whoever can push to the
 * repository, and every number in it turns into work berth does, containers it starts or timers it
 * sets: each has a ceiling far above what an app needs and well below what hurts the server. A value
 * over one is a problem of the file, reported at its key like any other, never an error of berth's.
 */

/** Counts of entries. */
export const MAX_COUNT = {
  services: 20,
  processes: 20,
  routes: 100,
  /** Declared volumes, and the volumes or files mounted into one container. */
  volumes: 50,
  files: 50,
  /** Per mapping: env, previews.env, a service's env, build.args. */
  envEntries: 200,
  secrets: 100,
  watchGlobs: 100,
  /** Words of one command. */
  commandWords: 1024,
} as const;

/** Lengths of text, in characters. */
export const MAX_LENGTH = {
  /** A watch glob: 512 characters are at most 256 stars, which RE2 still matches in milliseconds. */
  watchGlob: 512,
  /** Paths in the repository or a container: Linux's PATH_MAX. */
  path: 4096,
  /** A route or health-check path. */
  urlPath: 1024,
  /** An image reference or a builder image: a name, a tag and a sha256 digest fit many times over. */
  image: 512,
  /** Variable and secret names, stage names. */
  name: 256,
  volumeName: 64,
  /**
   * All names and values of one env mapping together: Linux refuses to start a process whose
   * environment holds a single string over 128 KiB, and the whole environment shares about 2 MiB
   * with its arguments.
   */
  env: 128 * 1024,
  /** All words of one command together. */
  command: 64 * 1024,
} as const;

/** Ceilings of numbers, sizes and durations (durations as berth.yaml writes them). */
export const MAX_VALUE = {
  /** Replicas of one process type: all of them run on one server. */
  replicas: 32,
  memory: "1t",
  memoryBytes: 1024 ** 4,
  /** Docker's own smallest CPU limit is 0.01. */
  minCpus: 0.01,
  cpus: 256,
  /** Health-check interval, timeout and start period. */
  healthDuration: "1h",
  /** build.timeout; Node's timers hold at most 24.8 days, and a build is not meant to come near that. */
  buildTimeout: "24h",
  /** previews.expire_after. */
  expireAfter: "90d",
  /** sleep_after and previews.sleep_after: shorter would stop an app between two clicks. */
  minSleepAfter: "10s",
  maxSleepAfter: "30d",
} as const;
