import { describe, expect, it } from "vitest";
import { parseManifest } from "../../manifest/manifest.js";
import { loadConfig } from "../../core/config.js";
import { lastUsed, overlayRoutes, parseAccessLog, planSleep, sleepAfterFor, type SleepCandidate } from "../../releaser/sleep-plan.js";
import { humanDuration } from "../../releaser/sleep.js";
import { errorOf } from "../support/manifest-error-of.js";

const manifestOf = parseManifest;
const at = (s: number): Date => new Date(s * 1000);
const candidate = (over: Partial<SleepCandidate>): SleepCandidate => ({
  appId: 1,
  app: "shop",
  environment: "pr-1",
  hostname: "shop-pr-1.example.com",
  deploymentId: 9,
  webContainer: "c1",
  upstream: "berth-shop-pr-1-web-abcdef0-9:8080",
  manifest: null,
  liveAt: at(1000),
  sleepingAt: null,
  lastRequestAt: null,
  wokenAt: null,
  ...over,
});

describe("sleep_after in berth.yaml", () => {
  it("reads previews.sleep_after and production's sleep_after, with never as null", () => {
    expect(manifestOf("previews: { sleep_after: 10s }\n").previews.sleepAfterMs).toBe(10_000);
    expect(manifestOf("previews: { sleep_after: never }\n").previews.sleepAfterMs).toBeNull();
    expect(manifestOf("sleep_after: 2h\n").sleepAfterMs).toBe(7_200_000);
    const none = manifestOf("web: { port: 80 }\n");
    expect([none.sleepAfterMs, none.previews.sleepAfterMs]).toEqual([undefined, undefined]);
  });

  it("refuses durations outside 10s to 30d, and words other than never", () => {
    expect(errorOf("previews: { sleep_after: 9s }\n")).toBe('previews.sleep_after (line 1): expected a duration of at least 10s, or never; got "9s"');
    expect(errorOf("sleep_after: 31d\n")).toBe('sleep_after (line 1): expected a duration of at most 30d; got "31d"');
    expect(errorOf("sleep_after: always\n")).toBe('sleep_after (line 1): expected a duration such as 500ms, 2s, 5m, 1h or 7d; got "always"');
  });

  it("takes BERTH_PREVIEW_SLEEP_AFTER from the environment: 30m by default, never to switch it off", () => {
    expect(loadConfig({}).previewSleepAfterMs).toBe(1_800_000);
    expect(loadConfig({ BERTH_PREVIEW_SLEEP_AFTER: "never" }).previewSleepAfterMs).toBeNull();
    expect(loadConfig({ BERTH_PREVIEW_SLEEP_AFTER: "45s" }).previewSleepAfterMs).toBe(45_000);
    expect(() => loadConfig({ BERTH_PREVIEW_SLEEP_AFTER: "5s" })).toThrow("BERTH_PREVIEW_SLEEP_AFTER=5s: expected at least 10s, or never");
    expect(() => loadConfig({ BERTH_PREVIEW_SLEEP_AFTER: "soon" })).toThrow("BERTH_PREVIEW_SLEEP_AFTER=soon: expected a duration such as 90s, 30m, 12h or 7d, at most 30d");
  });
});

describe("sleepAfterFor", () => {
  const previews = manifestOf("previews: { sleep_after: 10s }\n");
  const never = manifestOf("previews: { sleep_after: never }\nsleep_after: 1h\n");
  it("gives previews their berth.yaml's value, else the operator's default; production only its own", () => {
    expect(sleepAfterFor("pr-3", previews, 1_800_000)).toBe(10_000);
    expect(sleepAfterFor("pr-3", never, 1_800_000)).toBeNull();
    expect(sleepAfterFor("pr-3", null, 1_800_000)).toBe(1_800_000);
    expect(sleepAfterFor("pr-3", null, null)).toBeNull();
    expect(sleepAfterFor("production", previews, 1_800_000)).toBeNull();
    expect(sleepAfterFor("production", never, 1_800_000)).toBe(3_600_000);
  });
});

describe("planSleep", () => {
  it("counts idle time from the newest of request, wake and release", () => {
    expect(lastUsed(candidate({ liveAt: at(1000), lastRequestAt: at(1500), wokenAt: at(1200) }))).toBe(1_500_000);
    expect(lastUsed(candidate({ liveAt: at(1000), lastRequestAt: null, wokenAt: at(1200) }))).toBe(1_200_000);
  });

  it("puts to sleep exactly the awake environments idle for at least their sleep_after, least recently used first", () => {
    const m10s = manifestOf("previews: { sleep_after: 10s }\n");
    const idle = candidate({ environment: "pr-1", manifest: m10s, lastRequestAt: at(1990) });
    const older = candidate({ environment: "pr-2", manifest: m10s, lastRequestAt: at(1980) });
    const busy = candidate({ environment: "pr-3", manifest: m10s, lastRequestAt: at(1991) });
    const asleep = candidate({ environment: "pr-4", manifest: m10s, sleepingAt: at(1500) });
    const off = candidate({ environment: "pr-5", manifest: manifestOf("previews: { sleep_after: never }\n") });
    const byDefault = candidate({ environment: "pr-6", liveAt: at(1000) }); // operator default 30m: idle 1000s < 1800s
    const production = candidate({ environment: "production", liveAt: at(0) }); // no sleep_after: never
    const plan = planSleep([idle, older, busy, asleep, off, byDefault, production], 2_000_000, 1_800_000);
    expect(plan.map((c) => c.environment)).toEqual(["pr-2", "pr-1"]);
    expect(planSleep([byDefault], (1000 + 1800) * 1000, 1_800_000).map((c) => c.environment)).toEqual(["pr-6"]);
  });
});

describe("parseAccessLog", () => {
  it("keeps the newest request per hostname from Caddy's access log and skips everything else", () => {
    const line = (host: string, ts: number, logger = "http.log.access.log0") => JSON.stringify({ level: "info", ts, logger, msg: "handled request", request: { host, method: "GET", uri: "/" }, status: 200 });
    const text = [
      line("shop-pr-1.example.com", 100.25),
      line("Shop-PR-1.example.com:8443", 130.5),
      line("shop-pr-1.example.com", 120),
      line("api.example.com", 99),
      JSON.stringify({ level: "info", ts: 500, logger: "tls", msg: "certificate obtained", request: { host: "api.example.com" } }),
      line("evil.com {", 200),
      "{not json",
      "plain text",
      "",
    ].join("\n");
    expect([...parseAccessLog(text)]).toEqual([
      ["shop-pr-1.example.com", 130_500],
      ["api.example.com", 99_000],
    ]);
  });
});

describe("overlayRoutes", () => {
  it("routes a sleeping hostname whole to the waker and logs the requests of sleepable awake ones", () => {
    const routes = [
      { hostname: "a.example.com", upstream: "web-a:8080", paths: [{ path: "/static/*", upstreams: ["nginx:80"] }] },
      { hostname: "b.example.com", upstream: "web-b:8080" },
      { hostname: "c.example.com", upstream: "web-c:8080" },
    ];
    expect(overlayRoutes(routes, new Set(["a.example.com"]), new Set(["b.example.com"]), "10.0.0.1:41234")).toEqual([
      { hostname: "a.example.com", upstream: "10.0.0.1:41234" },
      { hostname: "b.example.com", upstream: "web-b:8080", logRequests: true },
      { hostname: "c.example.com", upstream: "web-c:8080" },
    ]);
    // No waker listening: the route stays as it was rather than pointing nowhere.
    expect(overlayRoutes(routes, new Set(["a.example.com"]), new Set(), undefined)).toEqual(routes);
  });
});

describe("humanDuration", () => {
  it("writes durations as berth.yaml would", () => {
    expect([humanDuration(10_000), humanDuration(1_800_000), humanDuration(7_200_000), humanDuration(86_400_000), humanDuration(90_000)]).toEqual(["10s", "30m", "2h", "1d", "90s"]);
  });
});
