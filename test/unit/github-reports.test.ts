import { describe, expect, it } from "vitest";
import { mergeReports, priorityOf, type Report } from "../../github/report.js";
import { GITHUB_LIMITS, WritePacer } from "../../github/write-pacer.js";
import { FakeGitHubReporter } from "../support/fakes/fake-github-reporter.js";
import { FakeClock } from "../support/fakes/fake-clock.js";

const repo = { owner: "o", repo: "r", installationId: "7" };
const status = (state: "in_progress" | "success" | "inactive") => ({ state, description: state, logUrl: "http://berth/d/1" });
const create = { sha: "a".repeat(40), environment: "pr-1", production: false, transient: true, description: "berth pr-1" };
const check = (conclusion?: "success"): Report => ({ kind: "check", repo, deploymentId: 1, sha: "a".repeat(40), mode: "upsert", update: conclusion ? { conclusion } : { status: "in_progress" } });

describe("priorityOf", () => {
  const deployment = (state: Parameters<typeof status>[0] | "failure", withCreate = false): Report => ({ kind: "deployment", repo, deploymentId: 1, ...(withCreate ? { create } : {}), status: { ...status("success"), state } });

  it("puts the outcomes first, then a Deployment's creation, the opening states, and last what is superseded or cosmetic", () => {
    const order: Report[] = [
      check("success"),
      deployment("success"),
      deployment("in_progress", true),
      check(),
      { kind: "comment", repo, appId: 1, environment: "pr-1", pr: 1, body: "…" },
      { kind: "progress", repo, deploymentId: 1, update: {} },
    ];
    expect(order.map(priorityOf)).toEqual([0, 0, 1, 2, 3, 4]);
  });

  it("gives a Deployment's final status, failed or not, with or without its creation, the outcome's priority; an in-progress status waits with the comment", () => {
    expect([deployment("failure"), deployment("success", true), deployment("failure", true)].map(priorityOf)).toEqual([0, 0, 0]);
    expect(priorityOf(deployment("in_progress"))).toBe(3);
    expect(priorityOf(deployment("inactive"))).toBe(2);
  });
});

describe("mergeReports", () => {
  it("keeps a Deployment's creation when a newer status supersedes the first, but does not create one only to mark it inactive", () => {
    const opening: Report = { kind: "deployment", repo, deploymentId: 1, create, status: status("in_progress") };
    expect(mergeReports(opening, { kind: "deployment", repo, deploymentId: 1, status: status("success") })).toEqual({ kind: "deployment", repo, deploymentId: 1, create, status: status("success") });
    expect(mergeReports(opening, { kind: "deployment", repo, deploymentId: 1, status: status("inactive") })).toEqual({ kind: "deployment", repo, deploymentId: 1, status: status("inactive") });
  });
});

describe("WritePacer", () => {
  const limits = { refillMs: 1000, burst: 4, reserves: [0, 2], commentSpacingMs: 3000 };

  it("lets a burst out at once, keeps the reserve for outcomes, and refills a token a second (reads take none)", async () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer(limits, clock);
    const noted = pacer.noting(new FakeGitHubReporter());
    await noted.findComment(repo, 1, "<!-- berth -->");
    expect([pacer.resting(), pacer.withheld(1), pacer.nextTurnInMs()]).toEqual([[], [], undefined]);
    await noted.createCheckRun(repo, "a".repeat(40), { status: "queued" });
    expect(pacer.withheld(1)).toEqual([]); // 3 left, above the reserve of 2
    await noted.createCheckRun(repo, "b".repeat(40), { status: "queued" });
    expect([pacer.resting(), pacer.withheld(1), pacer.nextTurnInMs()]).toEqual([[], ["7"], 1000]); // 2 left: outcomes only
    await noted.createCheckRun(repo, "c".repeat(40), { conclusion: "success" });
    await noted.createCheckRun(repo, "c".repeat(40), { conclusion: "success" });
    expect([pacer.resting(), pacer.nextTurnInMs()]).toEqual([["7"], 1000]); // none left
    clock.advance(400);
    expect(pacer.nextTurnInMs()).toBe(600);
    clock.advance(600);
    expect([pacer.resting(), pacer.withheld(1)]).toEqual([[], ["7"]]);
    clock.advance(10_000);
    expect([pacer.resting(), pacer.withheld(1), pacer.nextTurnInMs()]).toEqual([[], [], undefined]); // full: forgotten
  });

  it("never writes more than burst + a minute of refills in any minute", async () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer({ refillMs: 1000, burst: 20, reserves: [0, 8, 15], commentSpacingMs: 3000 }, clock);
    const noted = pacer.noting(new FakeGitHubReporter());
    const at: number[] = [];
    for (let t = 0; t < 180_000; t += 50, clock.advance(50)) {
      if (!pacer.resting().includes("7")) {
        await noted.createCheckRun(repo, "c".repeat(40), { conclusion: "success" });
        at.push(clock.now());
      }
    }
    const most = Math.max(...at.map((t0) => at.filter((t) => t >= t0 && t < t0 + 60_000).length));
    expect(most).toBeLessThanOrEqual(80);
    expect(most).toBeGreaterThanOrEqual(79);
  });

  it("keeps GitHub's limits, 80 writes in any minute and 500 in any hour, and gives a write back when the oldest turns an hour old", async () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer(GITHUB_LIMITS, clock);
    const noted = pacer.noting(new FakeGitHubReporter());
    const at: number[] = [];
    for (let t = 0; t < 3 * 3_600_000; t += 250, clock.advance(250)) {
      if (!pacer.resting().includes("7")) {
        await noted.createCheckRun(repo, "c".repeat(40), { conclusion: "success" });
        at.push(clock.now());
      }
    }
    let most = 0;
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[j]! <= at[i]! - 3_600_000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBe(500);
    const minute = Math.max(...at.map((t0) => at.filter((t) => t >= t0 && t < t0 + 60_000).length));
    expect(minute).toBeLessThanOrEqual(80);
    expect(minute).toBeGreaterThanOrEqual(79);
    expect(at).toHaveLength(1500); // the hour's writes are not lost: each comes back an hour later
    // Near the end of an hour's allowance, the last writes are the outcomes' reserve, as with the bucket.
    const fresh = new WritePacer({ refillMs: 1000, burst: 20, reserves: [0, 4], commentSpacingMs: 3000, perHour: 10 }, clock);
    const writes = fresh.noting(new FakeGitHubReporter());
    for (let i = 0; i < 6; i++) await writes.createCheckRun(repo, "c".repeat(40), { status: "queued" });
    expect([fresh.withheld(1), fresh.withheld(0), fresh.nextTurnInMs()]).toEqual([["7"], [], 3_600_000]);
  });

  it("keeps reserves in tiers: each priority stops at its own, the last tokens are the first priority's", async () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer({ refillMs: 1000, burst: 20, reserves: [0, 8, 15], commentSpacingMs: 3000 }, clock);
    const noted = pacer.noting(new FakeGitHubReporter());
    expect(pacer.tiers()).toEqual([1, 2]);
    const spend = async (n: number) => {
      for (let i = 0; i < n; i++) await noted.createCheckRun(repo, "c".repeat(40), { conclusion: "success" });
    };
    await spend(4); // 16 left
    expect([pacer.withheld(2), pacer.withheld(3), pacer.withheld(1)]).toEqual([[], [], []]);
    await spend(1); // 15: opening writes, comments and progress wait
    expect([pacer.withheld(2), pacer.withheld(4), pacer.withheld(1), pacer.withheld(0)]).toEqual([["7"], ["7"], [], []]);
    await spend(7); // 8: Deployment statuses wait too
    expect([pacer.withheld(1), pacer.withheld(0)]).toEqual([["7"], []]);
    await spend(8); // none
    expect(pacer.withheld(0)).toEqual(["7"]);
  });

  it("writes nothing to a rate-limited installation until the limit lifts", () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer(limits, clock);
    pacer.pause("7", 30_000);
    expect(pacer.resting()).toEqual(["7"]);
    clock.advance(29_999);
    expect(pacer.resting()).toEqual(["7"]);
    clock.advance(1);
    expect(pacer.resting()).toEqual([]);
  });

  it("spaces comment creation three seconds apart per installation", async () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer(limits, clock);
    await pacer.noting(new FakeGitHubReporter()).createComment(repo, 1, "hello");
    expect(pacer.restingFromComments()).toEqual(["7"]);
    clock.advance(2999);
    expect(pacer.restingFromComments()).toEqual(["7"]);
    clock.advance(1);
    expect(pacer.restingFromComments()).toEqual([]);
  });
});
