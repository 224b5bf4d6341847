import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { buildJobId } from "../../jobs/queue.js";
import { APPROVAL_LABEL, handlePullRequest, type PullRequestEvent } from "../../server/pull-request-handler.js";
import type { Deployment } from "../../store/db.js";
import { getEnvironment } from "../../store/environment-store.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const REPO = { id: 501, name: "site", full_name: "acme/site", default_branch: "main", clone_url: "https://github.com/acme/site.git", owner: { login: "acme" } };
const FORK = { id: 777, full_name: "mallory/site" };

interface EventSpec {
  head: string;
  fork?: boolean;
  labels?: string[];
  label?: string;
  sender?: string;
}

/** A pull_request delivery for PR #7 of acme/site, as GitHub sends it (the fields berth reads). */
function event(action: string, spec: EventSpec): PullRequestEvent {
  return {
    action,
    installation: { id: 42 },
    ...(spec.label ? { label: { name: spec.label } } : {}),
    sender: { login: spec.sender ?? "mallory" },
    repository: REPO,
    pull_request: {
      number: 7,
      labels: (spec.labels ?? []).map((name) => ({ name })),
      head: { sha: spec.head, repo: spec.fork === false ? { id: REPO.id, full_name: REPO.full_name } : FORK },
      base: { repo: { id: REPO.id } },
    },
  };
}

// Simulated time: a test that waits for real time has hung, so it fails fast.
describe("fork approval (handlePullRequest, startDeployment; real Postgres, fake GitHub and queues)", { timeout: 10_000 }, () => {
  let w: WorkflowWorld;
  let deliveries = 0;
  const deliver = (payload: PullRequestEvent) => handlePullRequest(w.webhookDeps(), `delivery-${++deliveries}`, payload);

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    w.github.roles.set("wendy", "write");
    w.github.roles.set("randy", "read");
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  const deploymentsOf = (commit: string): Promise<Deployment[]> => w.db.selectFrom("deployments").selectAll().where("sha", "=", commit).orderBy("id").execute();
  const latestCheckRun = (commit: string) => w.github.checkRunsFor(commit).at(-1);

  it("holds a fork's pull request until it is approved, and says how to approve it", async () => {
    expect(await deliver(event("opened", { head: sha("a1") }))).toBe("waiting");

    const [d] = await deploymentsOf(sha("a1"));
    expect(d).toMatchObject({ state: "waiting", environment: "pr-7", ref: "refs/pull/7/head", clone_url: REPO.clone_url });
    const app = await w.appById(d!.app_id);
    expect(await getEnvironment(w.db, app.id, "pr-7")).toMatchObject({ state: "open", fork: true, head_repo: "mallory/site", head_sha: sha("a1") });
    expect(w.buildQueue.jobs).toEqual([]);
    expect(w.github.permissionLookups).toEqual([]); // nobody approved anything yet
    await w.drain();
    const check = latestCheckRun(sha("a1"));
    expect(check?.conclusion).toBe("neutral");
    expect(check?.output?.title).toBe("Waiting for approval to build this fork");
    expect(check?.output?.summary).toBe(
      "This pull request comes from a fork (`mallory/site`); berth does not run its code until it is approved. Someone with write access to `acme/site` can review the code and add the label `berth:preview` to build and preview it.",
    );
    const [comment] = w.github.commentsOn(7);
    expect(comment?.body).toContain("berth preview: waiting for approval");
  });

  it("does not build when the label comes from a user without write permission, and takes the label off", async () => {
    await deliver(event("opened", { head: sha("b1") }));
    expect(await deliver(event("labeled", { head: sha("b1"), label: "needs-review", labels: ["needs-review"], sender: "wendy" }))).toBe("ignored");

    expect(await deliver(event("labeled", { head: sha("b1"), label: APPROVAL_LABEL, labels: [APPROVAL_LABEL], sender: "randy" }))).toBe("waiting");

    expect(w.github.permissionLookups).toEqual(["randy"]); // looked up through the API, never read from the payload
    expect(w.github.removedLabels).toEqual([`acme/site#7 ${APPROVAL_LABEL}`]);
    expect(w.buildQueue.jobs).toEqual([]);
    expect((await deploymentsOf(sha("b1"))).map((d) => d.state)).toEqual(["cancelled", "waiting"]);
    await w.drain();
    const check = latestCheckRun(sha("b1"));
    expect(check?.conclusion).toBe("neutral");
    expect(check?.output?.summary).toContain("@randy added `berth:preview` but has the `read` role on this repository, which cannot approve running a fork's code, so the label was removed.");
  });

  it("builds once a user with write permission adds the label, and a later push takes the approval away", async () => {
    await deliver(event("opened", { head: sha("c1") }));

    expect(await deliver(event("labeled", { head: sha("c1"), label: APPROVAL_LABEL, labels: [APPROVAL_LABEL], sender: "wendy" }))).toBe("queued");

    expect(w.github.permissionLookups).toEqual(["wendy"]);
    expect(w.github.removedLabels).toEqual([]);
    const [waited, approved] = await deploymentsOf(sha("c1"));
    expect(waited?.state).toBe("cancelled");
    expect(approved?.state).toBe("queued");
    expect(w.buildQueue.waiting).toEqual([{ deploymentId: approved!.id, sha: sha("c1") }]);
    w.fetcher.tree = { Dockerfile: "FROM node:20\nEXPOSE 8080\n" };
    expect(await runBuild(w.buildDeps(), approved!.id)).toBe("built"); // what the build worker does with that job
    expect(w.builder.runs.map((r) => r.plan.image)).toEqual([`berth/site:${sha("c1")}-${approved!.id}`]);

    // New code in the fork: not built, and the label comes off.
    expect(await deliver(event("synchronize", { head: sha("c2"), labels: [APPROVAL_LABEL] }))).toBe("waiting");

    expect(w.github.removedLabels).toEqual([`acme/site#7 ${APPROVAL_LABEL}`]);
    const [pushed] = await deploymentsOf(sha("c2"));
    expect(pushed?.state).toBe("waiting");
    expect(w.buildQueue.waiting).toEqual([{ deploymentId: approved!.id, sha: sha("c1") }]); // only the approved commit's job, ever
    expect(w.builder.runs).toHaveLength(1);
    await w.drain();
    expect(latestCheckRun(sha("c2"))?.output?.summary).toBe(
      `New commits were pushed to this fork after \`${sha("c1").slice(0, 7)}\` was approved, so the approval label was removed: \`${sha("c2").slice(0, 7)}\` is not built yet. Someone with write access to \`acme/site\` can review the code and add the label \`berth:preview\` to build and preview it.`,
    );
  });

  it("supersedes an approved fork build that has not started when new code arrives", async () => {
    await deliver(event("labeled", { head: sha("d1"), label: APPROVAL_LABEL, labels: [APPROVAL_LABEL], sender: "wendy" }));
    const [approved] = await deploymentsOf(sha("d1"));
    expect(approved?.state).toBe("queued");

    await deliver(event("synchronize", { head: sha("d2"), labels: [APPROVAL_LABEL] }));

    expect((await w.get(approved!.id)).state).toBe("cancelled");
    expect(await w.buildQueue.getJob(buildJobId(approved!.id, sha("d1")))).toBeUndefined(); // removed: it never starts
    expect(await runBuild(w.buildDeps(), approved!.id)).toBe("skipped"); // nor does a job that slipped through
    expect(w.builder.runs).toEqual([]);
    await w.drain();
    expect(latestCheckRun(sha("d1"))?.conclusion).toBe("cancelled");
  });

  // A label still on the PR is no approval of new code: GitHub sends no synchronize for pushes while a
  // pull request is closed, so a fork author could close an approved PR, push and reopen it.
  it("does not build new code that arrives while an approved fork pull request is closed", async () => {
    await deliver(event("opened", { head: sha("f1") }));
    expect(await deliver(event("labeled", { head: sha("f1"), label: APPROVAL_LABEL, labels: [APPROVAL_LABEL], sender: "wendy" }))).toBe("queued");
    expect(await deliver(event("closed", { head: sha("f1"), labels: [APPROVAL_LABEL] }))).toBe("closed");

    const outcome = await deliver(event("reopened", { head: sha("f2"), labels: [APPROVAL_LABEL] }));

    expect(w.buildQueue.waiting.map((j) => j.sha)).not.toContain(sha("f2"));
    expect(outcome).toBe("waiting");
  });

  it("builds a pull request from the repository itself at once, asking nobody", async () => {
    expect(await deliver(event("opened", { head: sha("e1"), fork: false }))).toBe("queued");

    const [d] = await deploymentsOf(sha("e1"));
    expect(d?.state).toBe("queued");
    expect(w.buildQueue.waiting).toEqual([{ deploymentId: d!.id, sha: sha("e1") }]);
    expect(w.github.permissionLookups).toEqual([]);
    expect(w.github.removedLabels).toEqual([]);
    await w.drain();
    expect(latestCheckRun(sha("e1"))).toMatchObject({ status: "queued" });
  });
});
