import type { Db } from "../store/db.js";
import { getEnvironment, setCommentId } from "../store/environment-store.js";
import { setDeploymentGitHubIds } from "../store/queries.js";
import { awaitCheckRunId, checkRunIdOf, claimCheckRun, dropClaim } from "./check-run-claim.js";
import type { CheckRunUpdate, GitHubReporter, RepoRef } from "./github-reporter.js";
import { COMMENT_MARKER } from "./preview-comment.js";
import type { Report } from "./report.js";

/**
 * Sends one report to GitHub, with the GitHub ids known at this moment; ids GitHub hands back are
 * stored at once. A report whose deployment or environment is gone is skipped. At most one write per
 * call, so a report never holds its installation's turn for two: what is left (a Deployment's status
 * after creating it) is returned, to be sent on a later turn.
 */
export async function deliverReport(db: Db, github: GitHubReporter, r: Report): Promise<Report | undefined> {
  if (r.kind === "comment") return void (await deliverComment(db, github, r));
  const row = await db
    .selectFrom("deployments")
    .select(["check_run_id", "github_deployment_id", "state"])
    .where("id", "=", r.deploymentId)
    .executeTakeFirst();
  if (!row) return undefined;
  if (r.kind === "progress") {
    // Held up behind GitHub's pacing, progress must not overwrite what was reported since (released,
    // failed, superseded): it is only ever shown while the build runs.
    const id = checkRunIdOf(row.check_run_id);
    if (id && row.state === "building") await github.updateCheckRun(r.repo, id, r.update);
    return undefined;
  }
  if (r.kind === "check") {
    await deliverCheckRun(db, github, r, row.check_run_id);
    // A final conclusion that reached GitHub: the sweeper of lost outcomes (github/lost-reports.ts) need not send it again.
    if (r.update.conclusion) await db.updateTable("deployments").set({ reported: r.update.conclusion }).where("id", "=", r.deploymentId).execute();
    return undefined;
  }
  const id = row.github_deployment_id;
  if (!id && r.create) {
    await setDeploymentGitHubIds(db, r.deploymentId, { githubDeploymentId: await github.createDeployment(r.repo, r.create) });
    return { kind: r.kind, repo: r.repo, deploymentId: r.deploymentId, status: r.status };
  }
  if (id) await github.createDeploymentStatus(r.repo, id, r.status);
  return undefined;
}

async function deliverCheckRun(db: Db, github: GitHubReporter, r: Extract<Report, { kind: "check" }>, checkRunId: string | null): Promise<void> {
  if (r.mode === "create") {
    if (!checkRunId && (await claimCheckRun(db, r.deploymentId))) await createCheckRun(db, github, r.repo, r.deploymentId, r.sha, r.update);
    return;
  }
  let id = checkRunIdOf(checkRunId);
  if (!id) {
    if (r.mode === "update") return;
    const claimed = (await claimCheckRun(db, r.deploymentId)) ? "claimed" : await awaitCheckRunId(db, r.deploymentId);
    if (claimed === "claimed") return createCheckRun(db, github, r.repo, r.deploymentId, r.sha, r.update);
    id = claimed;
  }
  if (id) await github.updateCheckRun(r.repo, id, r.update);
}

async function createCheckRun(db: Db, github: GitHubReporter, repo: RepoRef, deploymentId: number, sha: string, update: CheckRunUpdate): Promise<void> {
  try {
    await setDeploymentGitHubIds(db, deploymentId, { checkRunId: await github.createCheckRun(repo, sha, update) });
  } catch (e) {
    await dropClaim(db, deploymentId);
    throw e;
  }
}

/**
 * Keeps exactly one berth comment per pull request: created on the first report, edited in place
 * afterwards. Its id lives on the environment; if that was lost, the marker finds the comment again.
 */
async function deliverComment(db: Db, github: GitHubReporter, r: Extract<Report, { kind: "comment" }>): Promise<void> {
  const env = await getEnvironment(db, r.appId, r.environment);
  let id = env?.comment_id ?? (await github.findComment(r.repo, r.pr, COMMENT_MARKER));
  if (id) {
    await github.updateComment(r.repo, id, r.body);
  } else {
    id = await github.createComment(r.repo, r.pr, r.body);
  }
  if (env && env.comment_id !== id) await setCommentId(db, env.id, id);
}
