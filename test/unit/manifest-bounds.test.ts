import { describe, expect, it } from "vitest";
import { parseManifest } from "../../manifest/manifest.js";
import { errorOf } from "../support/manifest-error-of.js";

const lines = (...l: string[]): string => l.join("\n") + "\n";
const times = (n: number, item: (i: number) => string): string => Array.from({ length: n }, (_, i) => item(i)).join(", ");
const a = (n: number): string => "a".repeat(n);

// [what is over its bound, berth.yaml, the exact message]
const OVER: [string, string, string][] = [
  // numbers and durations
  ["33 replicas", lines("processes:", "  worker: { command: work, replicas: 33 }"), "processes.worker.replicas (line 2): expected a whole number from 0 to 32; got 33"],
  ["a build timeout of ten years", lines("build: { timeout: 3650d }"), 'build.timeout (line 1): expected a duration of at most 24h; got "3650d"'],
  ["a health timeout over an hour", lines("web:", "  healthcheck: { path: /up, timeout: 2h }"), 'web.healthcheck.timeout (line 2): expected a duration of at most 1h; got "2h"'],
  ["a health interval over an hour", lines("web:", "  healthcheck: { path: /up, interval: 61m }"), 'web.healthcheck.interval (line 2): expected a duration of at most 1h; got "61m"'],
  [
    "a start period over an hour",
    lines("services:", "  db:", "    image: postgres:16", "    healthcheck: { command: [pg_isready], start_period: 1h1s }"),
    'services.db.healthcheck.start_period (line 4): expected a duration of at most 1h; got "1h1s"',
  ],
  ["previews kept over 90 days", lines("previews: { expire_after: 91d }"), 'previews.expire_after (line 1): expected a duration of at most 90d; got "91d"'],
  ["2 TiB of memory", lines("web: { resources: { memory: 2t } }"), 'web.resources.memory (line 1): expected at most 1t; got "2t"'],
  ["257 CPUs", lines("processes:", "  w: { command: x, resources: { cpus: 257 } }"), "processes.w.resources.cpus (line 2): expected a number of CPUs from 0.01 to 256, such as 0.5 or 2; got 257"],
  ["a thousandth of a CPU", lines("build: { resources: { cpus: '0.001' } }"), 'build.resources.cpus (line 1): expected a number of CPUs from 0.01 to 256, such as 0.5 or 2; got "0.001"'],
  // counts
  ["21 services", lines(`services: { ${times(21, (i) => `s${i}: { image: x }`)} }`), "services (line 1): expected at most 20 services; got 21"],
  ["21 processes", lines(`processes: { ${times(21, (i) => `p${i}: { command: x }`)} }`), "processes (line 1): expected at most 20 processes; got 21"],
  ["101 routes", lines(`routes: [${times(101, (i) => `{ path: /r${i}, to: 'web:80' }`)}]`), "routes (line 1): expected at most 100 routes; got 101"],
  ["51 volumes", lines(`volumes: { ${times(51, (i) => `v${i}: {}`)} }`), "volumes (line 1): expected at most 50 volumes; got 51"],
  [
    "51 mounts",
    lines("volumes: { v: {} }", `web: { volumes: [${times(51, (i) => `'v:/m${i}'`)}] }`),
    "web.volumes (line 2): expected at most 50 volumes; got 51",
  ],
  [
    "51 files",
    lines("services:", `  nginx: { image: nginx, files: { ${times(51, (i) => `/f${i}: f`)} } }`),
    "services.nginx.files (line 2): expected at most 50 files; got 51",
  ],
  ["201 env variables", lines(`env: { ${times(201, (i) => `V${i}: x`)} }`), "env (line 1): expected at most 200 variables; got 201"],
  ["201 build args", lines(`build: { args: { ${times(201, (i) => `A${i}: x`)} } }`), "build.args (line 1): expected at most 200 variables; got 201"],
  ["101 secrets", lines(`secrets: [${times(101, (i) => `S${i}`)}]`), "secrets (line 1): expected at most 100 secrets; got 101"],
  ["101 watch globs", lines(`build: { watch: [${times(101, (i) => `d${i}/**`)}] }`), "build.watch (line 1): expected at most 100 globs; got 101"],
  ["1025 words of a command", lines(`release: [${times(1025, () => "x")}]`), "release (line 1): expected at most 1024 words; got 1025"],
  // lengths
  ["a 513-character glob", lines("build:", "  watch:", `    - ${a(510)}/**`), "build.watch[0] (line 3): expected at most 512 characters; got 513"],
  [
    "an env mapping over 128 KiB",
    lines("env:", `  A: ${a(65_536)}`, `  B: ${a(65_536)}`),
    "env (line 1): expected at most 131072 characters of names and values in all; got 131076",
  ],
  ["a command string over 64 KiB", lines(`web: { command: ${a(65_537)} }`), "web.command (line 1): expected at most 65536 characters; got 65537"],
  ["a command list over 64 KiB", lines(`release: [${a(40_000)}, ${a(40_000)}]`), "release (line 1): expected at most 65536 characters; got 80001"],
  ["a 513-character image", lines("services:", `  db: { image: ${a(513)} }`), "services.db.image (line 2): expected at most 512 characters; got 513"],
  ["a 513-character builder", lines(`build: { builder: ${a(513)} }`), "build.builder (line 1): expected at most 512 characters; got 513"],
  ["a 4097-character context", lines(`build: { context: ${a(4097)} }`), "build.context (line 1): expected at most 4096 characters; got 4097"],
  ["a 257-character stage", lines(`build: { target: ${a(257)} }`), "build.target (line 1): expected at most 256 characters; got 257"],
  ["a 1025-character health path", lines(`web: { healthcheck: { path: /${a(1024)} } }`), "web.healthcheck.path (line 1): expected at most 1024 characters; got 1025"],
  ["a 65-character volume name", lines(`volumes: { ${a(65)}: {} }`), `volumes.${a(65)} (line 1): expected at most 64 characters; got 65`],
  ["a 257-character secret name", lines(`secrets: [${"A".repeat(257)}]`), "secrets[0] (line 1): expected at most 256 characters; got 257"],
  ["a 4097-character mount path", lines("volumes: { v: {} }", `web: { volumes: ['v:/${a(4096)}'] }`), "web.volumes[0] (line 2): expected at most 4096 characters; got 4097"],
  [
    "a 4097-character file path",
    lines("services:", `  nginx: { image: nginx, files: { /${a(4096)}: f } }`),
    `services.nginx.files["/${a(4096)}"] (line 2): expected at most 4096 characters; got 4097`,
  ],
];

describe("berth.yaml's upper bounds", () => {
  it.each(OVER)("reports %s", (_, text, message) => {
    expect(errorOf(text)).toBe(message);
  });

  it("accepts every value at its bound", () => {
    const text = lines(
      `build: { timeout: 24h, watch: ['${a(509)}/**'], resources: { memory: 1t, cpus: 256 } }`,
      "web: { healthcheck: { path: /up, interval: 1h, timeout: 1h, start_period: 1h }, resources: { cpus: '0.01' } }",
      `processes: { ${times(20, (i) => `p${i}: { command: x, replicas: 32 }`)} }`,
      `services: { ${times(20, (i) => `s${i}: { image: x }`)} }`,
      `routes: [${times(100, (i) => `{ path: /r${i}, to: 'web:80' }`)}]`,
      `volumes: { ${times(50, (i) => `v${i}: {}`)} }`,
      `env: { ${times(200, (i) => `V${i}: x`)} }`,
      `secrets: [${times(100, (i) => `S${i}`)}]`,
      "previews: { expire_after: 90d }",
    );
    const m = parseManifest(text);
    expect([m.build.timeoutMs, m.processes.p19?.replicas, m.routes.length, m.volumes.length, Object.keys(m.env).length, m.previews.expireAfterMs]).toEqual([
      86_400_000, 32, 100, 50, 200, 7_776_000_000,
    ]);
  });
});
