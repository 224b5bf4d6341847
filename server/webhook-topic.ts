import { APPROVAL_LABEL, BUILD_ACTIONS } from "./pull-request-handler.js";

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
