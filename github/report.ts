import type { CheckRunUpdate, DeploymentRequest, DeploymentStatusRequest, RepoRef } from "./github-reporter.js";

/**
 * One GitHub report as the outbox stores it: plain data, so it survives a restart. Check-run modes:
 * `create` only when no check run exists yet (the webhook's queued state), `update` only when one does,
 * `upsert` either way.
 */
export type Report =
  | { kind: "check"; repo: RepoRef; deploymentId: number; sha: string; mode: "create" | "update" | "upsert"; update: CheckRunUpdate }
  /** A running build's step and log tail: shown only while the deployment is still building. */
  | { kind: "progress"; repo: RepoRef; deploymentId: number; update: CheckRunUpdate }
  /** A Deployment status; `create` opens the GitHub Deployment first when it has none yet. */
  | { kind: "deployment"; repo: RepoRef; deploymentId: number; create?: DeploymentRequest; status: DeploymentStatusRequest }
  | { kind: "comment"; repo: RepoRef; appId: number; environment: string; pr: number; body: string };

/**
 * Where a report goes: its chain (sent in order, one at a time) and its subject (the GitHub object it
 * sets). Each GitHub object is its own chain: a check run, a Deployment and a comment need nothing of
 * each other (progress and a bare status are skipped while their object does not exist yet), so a
 * deployment's outcome never waits behind its own less urgent writes.
 */
export function addressOf(r: Report): { chain: string; subject: string } {
  const subject = r.kind === "comment" ? `comment:${r.appId}:${r.pr}` : deploymentSubject(r.deploymentId, r.kind);
  return { chain: subject, subject };
}

/** The subject of a deployment's report of this kind. */
export function deploymentSubject(deploymentId: number, kind: Exclude<Report["kind"], "comment">): string {
  return `d:${deploymentId}:${kind}`;
}

/**
 * How urgent a report is, lowest first. GitHub's pace per installation is limited (write-pacer.ts), so
 * this decides what people wait for and which of the pacer's reserves a report may spend. First what a
 * developer watches, a deployment's outcome: its concluded check run and its Deployment's final status
 * (the PR's "View deployment"), in the order berth recorded them, so a check run and its status go out
 * together. Then the GitHub Deployment's creation: made when the work starts, it goes ahead of every
 * opening state, so that at first served only the status is left to write. Then the opening check-run
 * states, and last what a newer state supersedes while it waits or only decorates: a Deployment's
 * in-progress status, the sticky comment, build progress.
 */
export function priorityOf(r: Report): number {
  if (r.kind === "check") return r.update.conclusion ? 0 : 2;
  if (r.kind === "deployment") {
    if (FINAL_STATES.has(r.status.state)) return 0;
    if (r.create) return 1;
    return r.status.state === "inactive" ? 2 : 3;
  }
  return r.kind === "comment" ? 3 : 4;
}

/** The Deployment statuses that end a deployment's work: the outcome, not a step on the way. */
const FINAL_STATES: ReadonlySet<DeploymentStatusRequest["state"]> = new Set(["success", "failure", "error"]);

/**
 * The report to store when `newer` arrives while `older` (same subject) is still in the outbox: the
 * newer state wins, but what only the older one would have done (create the check run or the
 * Deployment) is kept, so superseding never loses an object on GitHub.
 */
export function mergeReports(older: Report | undefined, newer: Report): Report {
  if (!older || older.kind !== newer.kind) return newer;
  if (older.kind === "check" && newer.kind === "check") {
    // A queued state arriving after a later one (another process's webhook) says less: keep the later.
    if (newer.mode === "create") return older;
    const mode = older.mode === "update" && newer.mode === "update" ? "update" : "upsert";
    return { ...newer, mode, update: { ...older.update, ...newer.update } };
  }
  if (older.kind === "deployment" && newer.kind === "deployment") {
    // A Deployment not yet created and already inactive (superseded, torn down) is not worth creating.
    if (newer.status.state === "inactive") return newer;
    return { ...newer, create: newer.create ?? older.create };
  }
  return newer;
}
