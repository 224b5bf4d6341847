import { approveHead, closeEnvironment, openPreview } from "../store/environment-store.js";
import { WRITE_ROLES } from "../github/github-reporter.js";
import { environmentName } from "../core/names.js";
import { appFor, invalidFields, startDeployment, type WebhookDeps } from "./start-deployment.js";

/** What berth reads of a `pull_request` delivery. */
export interface PullRequestEvent {
  action: string;
  installation?: { id: number } | null;
  label?: { name: string } | null;
  sender?: { login: string };
  repository: { id: number; name: string; full_name: string; default_branch: string; clone_url: string; owner?: { login: string } | null; private?: boolean };
  pull_request: {
    number: number;
    labels: { name: string }[];
    /** Who opened it; GitHub's type is "Bot" for apps such as Dependabot. */
    user?: { type?: string } | null;
    head: { sha: string; repo: { id: number; full_name: string } | null };
    base: { repo: { id: number } };
  };
}

export type PullRequestOutcome = "queued" | "waiting" | "closed" | "duplicate" | "ignored" | "refused";

/** The label a writer adds to let berth build a fork's pull request. */
export const APPROVAL_LABEL = "berth:preview";

/** The actions that build a preview (labeled: only a fork's approval label). */
export const BUILD_ACTIONS = new Set(["opened", "reopened", "synchronize", "labeled"]);

/**
 * Pull requests get preview environments `pr-<N>`: opened, reopened and synchronize build the head;
 * closed tears the preview down. A fork's code runs only after a user with write access adds the
 * approval label (the permission looked up through the API, never trusted from the payload), and a
 * later push to the fork takes the approval away again.
 */
export async function handlePullRequest(deps: WebhookDeps, deliveryId: string, payload: PullRequestEvent): Promise<PullRequestOutcome> {
  const { pull_request: pr, repository: repo, installation } = payload;
  if (!installation) return "ignored";
  const bad = invalidFields({ sha: pr.head.sha, fullName: repo.full_name, number: pr.number });
  if (bad) {
    deps.log.warn({ deliveryId, field: bad }, "pull_request refused: a field is not what GitHub sends");
    return "refused";
  }
  const app = await appFor(deps.db, repo, installation.id);
  const environment = environmentName(pr.number);

  if (payload.action === "closed") {
    const closed = await closeEnvironment(deps.db, app.id, environment, "closed");
    if (closed) {
      const note = "The pull request was closed, so its preview was removed. Reopen it to bring the preview back.";
      await deps.queues.teardown.add("teardown", { appId: app.id, environment, state: "removed", note }, { jobId: `teardown-${closed.id}-${Date.now()}` });
    }
    return closed ? "closed" : "ignored";
  }
  if (!BUILD_ACTIONS.has(payload.action)) return "ignored";
  const fork = !pr.head.repo || pr.head.repo.id !== pr.base.repo.id;
  const labelled = payload.label?.name;
  if (payload.action === "labeled" && (!fork || labelled !== APPROVAL_LABEL)) return "ignored";

  const env = await openPreview(deps.db, {
    appId: app.id,
    name: environment,
    prNumber: pr.number,
    headSha: pr.head.sha,
    headRepo: pr.head.repo?.full_name ?? "(deleted fork)",
    fork,
    authorBot: pr.user?.type === "Bot",
  });
  const input = { environment, sha: pr.head.sha, ref: `refs/pull/${pr.number}/head`, cloneUrl: repo.clone_url, deliveryId, actor: payload.sender?.login };
  const waitingNote = fork ? await forkApproval(deps, payload, app.id, env.approved_sha) : undefined;
  const d = await startDeployment(deps, app, input, waitingNote);
  if (!d) return "duplicate";
  return waitingNote ? "waiting" : "queued";
}

/**
 * Undefined when a fork's head may be built; otherwise the note saying why not and how to approve.
 * Approval is of one commit: a writer's label records the head it was given on, and only that sha is
 * ever built, whatever the label's state later (a close, a push and a reopen bring no synchronize).
 */
async function forkApproval(deps: WebhookDeps, payload: PullRequestEvent, appId: number, approvedSha: string | null): Promise<string | undefined> {
  const { pull_request: pr, repository: repo } = payload;
  const [owner = "", name = ""] = repo.full_name.split("/");
  const ref = { owner, repo: name, installationId: String(payload.installation?.id ?? "") };
  const short = pr.head.sha.slice(0, 7);
  const how = `Someone with write access to \`${repo.full_name}\` can review the code and add the label \`${APPROVAL_LABEL}\` to build and preview it.`;
  const hasLabel = pr.labels.some((l) => l.name === APPROVAL_LABEL);

  if (payload.action === "labeled") {
    const who = payload.sender?.login ?? "(unknown)";
    const role = await deps.github.permission(ref, who);
    if (WRITE_ROLES.has(role)) {
      await approveHead(deps.db, appId, environmentName(pr.number), pr.head.sha);
      return undefined;
    }
    await deps.github.removeLabel(ref, pr.number, APPROVAL_LABEL);
    return `@${who} added \`${APPROVAL_LABEL}\` but has the \`${role}\` role on this repository, which cannot approve running a fork's code, so the label was removed. ${how}`;
  }
  if (approvedSha === pr.head.sha) return undefined; // reopened (or redelivered) at the very commit a writer approved
  // New code since the approval: the label must go, so that adding it again is a new, visible approval.
  if (hasLabel) await deps.github.removeLabel(ref, pr.number, APPROVAL_LABEL);
  if (payload.action === "synchronize" || approvedSha !== null) {
    const since = approvedSha !== null ? ` after \`${approvedSha.slice(0, 7)}\` was approved${hasLabel ? ", so the approval label was removed" : ""}` : "";
    return `New commits were pushed to this fork${since}: \`${short}\` is not built yet. ${how}`;
  }
  return `This pull request comes from a fork (\`${pr.head.repo?.full_name ?? "a deleted fork"}\`); berth does not run its code until it is approved. ${how}`;
}
