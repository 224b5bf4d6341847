import { APPROVAL_LABEL, BUILD_ACTIONS } from "./pull-request-handler.js";
import { invalidFields } from "./start-deployment.js";

/**
 * The first field of a push, pull_request or check_run delivery that is not what GitHub sends (a sha that could
 * be a git option, a repository name that could shape a URL), or undefined. Checked before the
 * delivery is recorded: a refused one is recorded without its body, never worked on. The handlers check again.
 */
export function refusedField(event: string, payload: unknown): string | undefined {
  const p = payload as { after?: unknown; repository?: { full_name?: unknown }; pull_request?: { number?: unknown; head?: { sha?: unknown } }; check_run?: { id?: unknown; head_sha?: unknown } };
  if (event === "push") return invalidFields({ sha: p?.after, fullName: p?.repository?.full_name });
  if (event === "pull_request") return invalidFields({ sha: p?.pull_request?.head?.sha, fullName: p?.repository?.full_name, number: p?.pull_request?.number });
  if (event === "check_run") return invalidFields({ sha: p?.check_run?.head_sha, fullName: p?.repository?.full_name, number: p?.check_run?.id });
  return undefined;
}

/**
 * What a delivery changes, so that a newer delivery of the same topic supersedes it before it starts:
 * a push names its repository and ref, a pull request event that builds or closes a preview names its
 * repository and number. Null for every other delivery (another event, an action berth ignores), which
 * must never supersede one that matters: an `edited` after a `synchronize` replaces nothing.
 */
export function deliveryTopic(event: string, payload: unknown): string | null {
  const p = payload as { action?: unknown; ref?: unknown; repository?: { id?: unknown }; pull_request?: { number?: unknown }; label?: { name?: unknown } | null };
  const repo = p?.repository?.id;
  if (!Number.isSafeInteger(repo)) return null;
  if (event === "push") return typeof p.ref === "string" && p.ref.length <= 1024 ? `push:${repo}:${p.ref}` : null;
  if (event !== "pull_request") return null;
  const number = p.pull_request?.number;
  const action = typeof p.action === "string" ? p.action : "";
  if (!Number.isSafeInteger(number)) return null;
  if (action === "labeled" && p.label?.name !== APPROVAL_LABEL) return null;
  return action === "closed" || BUILD_ACTIONS.has(action) ? `pr:${repo}:${number}` : null;
}
