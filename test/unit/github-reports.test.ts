import { describe, expect, it } from "vitest";
import { mergeReports, priorityOf, type Report } from "../../github/report.js";
import { WritePacer } from "../../github/write-pacer.js";
import { FakeGitHubReporter } from "../support/fakes/fake-github-reporter.js";
import { FakeClock } from "../support/fakes/fake-clock.js";

const repo = { owner: "o", repo: "r", installationId: "7" };
const status = (state: "in_progress" | "success" | "inactive") => ({ state, description: state, logUrl: "http://berth/d/1" });
const create = { sha: "a".repeat(40), environment: "pr-1", production: false, transient: true, description: "berth pr-1" };
const check = (conclusion?: "success"): Report => ({ kind: "check", repo, deploymentId: 1, sha: "a".repeat(40), mode: "upsert", update: conclusion ? { conclusion } : { status: "in_progress" } });

describe("priorityOf", () => {
  it("puts a concluded check run first, then a Deployment's final status, the opening states, the comment and build progress", () => {
    const order: Report[] = [
      check("success"),
      { kind: "deployment", repo, deploymentId: 1, status: status("success") },
      check(),
      { kind: "comment", repo, appId: 1, environment: "pr-1", pr: 1, body: "…" },
      { kind: "progress", repo, deploymentId: 1, update: {} },
    ];
    expect(order.map(priorityOf)).toEqual([0, 1, 2, 3, 4]);
    expect(priorityOf({ kind: "deployment", repo, deploymentId: 1, create, status: status("in_progress") })).toBe(2);
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
  it("rests an installation for the spacing after each write (reads do not count), and comments for three times that", async () => {
    const clock = new FakeClock(1_000_000, false);
    const pacer = new WritePacer(1000, clock);
    const github = new FakeGitHubReporter();
    const noted = pacer.noting(github);
    await noted.findComment(repo, 1, "<!-- berth -->");
    expect(pacer.resting()).toEqual([]);
    expect(pacer.nextTurnInMs()).toBeUndefined();
    await noted.createComment(repo, 1, "hello");
    expect(pacer.resting()).toEqual(["7"]);
    expect(pacer.restingFromComments()).toEqual(["7"]);
    clock.advance(400);
    expect(pacer.nextTurnInMs()).toBe(600);
    clock.advance(600);
    expect(pacer.resting()).toEqual([]);
    expect(pacer.restingFromComments()).toEqual(["7"]);
    clock.advance(2000);
    expect(pacer.restingFromComments()).toEqual([]);
  });
});
