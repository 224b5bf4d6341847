import { describe, expect, it } from "vitest";
import { render } from "../../core/templates.js";
import { phaseSummary, phaseTimeline } from "../../store/phases.js";

const T = 1_767_225_600_000; // 2026-01-01T00:00:00Z

describe("phaseTimeline", () => {
  it("lists the phases reached in phase order, whatever order they were stored in, with each step's and the running time", () => {
    expect(phaseTimeline({ build_done: T + 900, received: T, fetch_started: T + 100 })).toEqual([
      { phase: "received", label: "webhook received", at: T, sincePrevious: 0, sinceStart: 0 },
      { phase: "fetch_started", label: "fetch started", at: T + 100, sincePrevious: 100, sinceStart: 100 },
      { phase: "build_done", label: "build done", at: T + 900, sincePrevious: 800, sinceStart: 900 },
    ]);
  });

  it("is empty for a deployment from before phases were timed", () => {
    expect(phaseTimeline({})).toEqual([]);
  });
});

describe("phaseSummary", () => {
  it("times the build from fetch to image and the release from image to first served, to a tenth of a second", () => {
    expect(phaseSummary({ fetch_started: T, build_done: T + 440, route_switched: T + 900, first_served: T + 1040 })).toEqual({ buildSeconds: 0.4, releaseSeconds: 0.6 });
  });

  it("falls back to the route switch when first served was not seen, and to 0 for what was not timed", () => {
    expect(phaseSummary({ build_done: T, route_switched: T + 250 })).toEqual({ buildSeconds: 0, releaseSeconds: 0.3 });
  });
});

describe("deployment.html phases", () => {
  const page = (phases: unknown[]): string =>
    render("deployment.html", { app: { repo_full_name: "acme/shop" }, deployment: { id: 7, sha: "ab".repeat(20), state: "live" }, appName: "shop", log: "", running: false, root: "", query: "", phases });

  it("shows a row per phase reached", () => {
    const html = page([{ label: "webhook received", at: "00:00:00.000", step: "0.00", total: "0.00" }, { label: "build done", at: "00:00:00.900", step: "0.80", total: "0.90" }]);
    expect(html).toContain("<tr><td>webhook received</td><td>00:00:00.000</td><td>0.00</td><td>0.00</td></tr>");
    expect(html).toContain("<tr><td>build done</td><td>00:00:00.900</td><td>0.80</td><td>0.90</td></tr>");
  });

  it("has no phase table for a deployment without timings", () => {
    expect(page([])).not.toContain("<h2>Phases</h2>");
  });
});
