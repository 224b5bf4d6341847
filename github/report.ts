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

/** Where a report goes: its chain (sent in order, one at a time) and its subject (the GitHub object it sets). */
export function addressOf(r: Report): { chain: string; subject: string } {
  if (r.kind === "comment") return { chain: `comment:${r.appId}:${r.pr}`, subject: `comment:${r.appId}:${r.pr}` };
  return { chain: `d:${r.deploymentId}`, subject: `d:${r.deploymentId}:${r.kind}` };
}

/**
 * How urgent a report is, lowest first: a deployment's outcome (what people wait for), then the
 * states that open its check run and Deployment, then the sticky comment and build progress.
 */
export function priorityOf(r: Report): number {
  if (r.kind === "check") return r.update.conclusion ? 0 : 1;
  if (r.kind === "deployment") return r.status.state === "in_progress" || r.status.state === "queued" ? 1 : 0;
  return 2;
}

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
  if (older.kind === "deployment" && newer.kind === "deployment") return { ...newer, create: newer.create ?? older.create };
  return newer;
}
