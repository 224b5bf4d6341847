import { createHmac, randomUUID } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

interface Example {
  name: string;
  examples: Record<string, unknown>[];
}

/** A real delivery recorded from GitHub (@octokit/webhooks-examples), deep-copied. */
export function example(event: string, match: (p: Record<string, unknown>) => boolean): Record<string, any> {
  const all = require("@octokit/webhooks-examples/api.github.com/index.json") as Example[];
  const found = all.find((e) => e.name === event)?.examples.find(match);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found) as Record<string, any>;
}

export interface RepoFacts {
  owner: string;
  name: string;
  id: number;
  cloneUrl: string;
  defaultBranch: string;
  installationId: number;
  /** The repository's visibility in deliveries; absent: as GitHub's recorded example says (public). */
  private?: boolean;
}

/** A push delivery: GitHub's recorded branch push with installation, pointed at our repository and commit. */
export function pushPayload(repo: RepoFacts, before: string, after: string, opts: { ref?: string; deleted?: boolean; changed?: string[] } = {}): Record<string, any> {
  const p = example("push", (e) => String(e.ref).startsWith("refs/heads/") && "installation" in e && e.deleted === false);
  const fullName = `${repo.owner}/${repo.name}`;
  p.ref = opts.ref ?? `refs/heads/${repo.defaultBranch}`;
  p.before = before;
  p.after = opts.deleted ? "0000000000000000000000000000000000000000" : after;
  p.deleted = opts.deleted ?? false;
  p.created = false;
  p.installation.id = repo.installationId;
  Object.assign(p.repository, {
    id: repo.id,
    name: repo.name,
    full_name: fullName,
    clone_url: repo.cloneUrl,
    default_branch: repo.defaultBranch,
    master_branch: repo.defaultBranch,
  });
  p.repository.owner.login = repo.owner;
  p.repository.owner.name = repo.owner;
  if (repo.private !== undefined) p.repository.private = repo.private;
  if (p.head_commit) p.head_commit.id = after;
  // The recorded commits name Codertocat's files; list ours, or none (unknown changes) when not given.
  const commit = { ...(p.head_commit ?? {}), id: after, added: [], modified: opts.changed ?? [], removed: [] };
  p.commits = opts.changed ? [commit] : [];
  return p;
}

export interface Delivery {
  id: string;
  status: number;
  body: string;
  ms: number;
}

/** POSTs a webhook like GitHub does; `secret: null` sends it unsigned, a wrong secret forges it. */
export async function deliver(url: string, event: string, payload: unknown, secret: string | null, id: string = randomUUID()): Promise<Delivery> {
  const d = prepareDelivery(event, payload, secret, id);
  const started = performance.now();
  const res = await fetch(url, { method: "POST", headers: d.headers, body: d.body });
  return { id, status: res.status, body: await res.text(), ms: performance.now() - started };
}

/** A delivery's body and headers, signed: built ahead of a burst so that sending costs the sender little. */
export interface PreparedDelivery {
  id: string;
  body: string;
  headers: Record<string, string>;
}

export function prepareDelivery(event: string, payload: unknown, secret: string | null, id: string = randomUUID()): PreparedDelivery {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/berth-test",
    "x-github-event": event,
    "x-github-delivery": id,
    "x-github-hook-id": "1",
  };
  if (secret !== null) headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  return { id, body, headers };
}

export interface PullOptions {
  action: "opened" | "reopened" | "synchronize" | "labeled" | "closed";
  number: number;
  head: string;
  /** A fork's full name; the base repository's own branch when absent. */
  fork?: string;
  labels?: string[];
  label?: string;
  sender?: string;
  merged?: boolean;
}

/** A pull_request delivery: GitHub's recorded one for this action, pointed at our repository, PR and head. */
export function pullRequestPayload(repo: RepoFacts, o: PullOptions): Record<string, any> {
  const p = example("pull_request", (e) => e.action === o.action && "installation" in e);
  const fullName = `${repo.owner}/${repo.name}`;
  p.number = o.number;
  p.installation.id = repo.installationId;
  Object.assign(p.repository, { id: repo.id, name: repo.name, full_name: fullName, clone_url: repo.cloneUrl, default_branch: repo.defaultBranch });
  p.repository.owner.login = repo.owner;
  if (repo.private !== undefined) p.repository.private = repo.private;
  const pr = p.pull_request;
  pr.number = o.number;
  pr.state = o.action === "closed" ? "closed" : "open";
  pr.merged = o.merged ?? false;
  pr.labels = (o.labels ?? []).map((name, i) => ({ id: 9000 + i, name, color: "ededed", default: false }));
  pr.head.sha = o.head;
  pr.head.ref = "feature";
  pr.base.ref = repo.defaultBranch;
  pr.base.repo = { ...pr.base.repo, id: repo.id, name: repo.name, full_name: fullName, clone_url: repo.cloneUrl };
  pr.head.repo = o.fork
    ? { ...pr.head.repo, id: repo.id + 1000, name: o.fork.split("/")[1], full_name: o.fork, fork: true, clone_url: `https://example.invalid/${o.fork}.git` }
    : { ...pr.base.repo };
  if (o.action === "labeled") p.label = { ...(p.label ?? {}), name: o.label ?? "berth:preview" };
  if (o.sender) p.sender.login = o.sender;
  if (o.action === "synchronize") {
    p.before = "0".repeat(40);
    p.after = o.head;
  }
  return p;
}

/** A check_run delivery: GitHub's recorded Re-run (`rerequested`) or button press (`requested_action`) on one of berth's check runs. */
export function checkRunPayload(repo: RepoFacts, o: { action: "rerequested" | "requested_action"; checkRunId: number; sha: string; sender: string; identifier?: string }): Record<string, any> {
  const p = example("check_run", (e) => e.action === o.action);
  p.installation = { ...(p.installation ?? {}), id: repo.installationId };
  Object.assign(p.repository, { id: repo.id, name: repo.name, full_name: `${repo.owner}/${repo.name}`, clone_url: repo.cloneUrl, default_branch: repo.defaultBranch });
  p.repository.owner.login = repo.owner;
  Object.assign(p.check_run, { id: o.checkRunId, head_sha: o.sha, name: "berth" });
  p.check_run.check_suite = { ...p.check_run.check_suite, head_sha: o.sha, head_branch: repo.defaultBranch };
  if (o.action === "requested_action") p.requested_action = { identifier: o.identifier ?? "" };
  p.sender.login = o.sender;
  return p;
}

/** An installation_repositories delivery: GitHub's recorded one, for this installation, adding or removing these repositories. */
export function installationRepositoriesPayload(installationId: number, o: { added?: { id: number; full_name: string }[]; removed?: { id: number; full_name: string }[] }): Record<string, any> {
  const p = example("installation_repositories", (e) => e.action === (o.removed ? "removed" : "added"));
  p.installation.id = installationId;
  const listed = (rs: { id: number; full_name: string }[] = []) => rs.map((r) => ({ id: r.id, node_id: `R_${r.id}`, name: r.full_name.split("/")[1], full_name: r.full_name, private: true }));
  p.repositories_added = listed(o.added);
  p.repositories_removed = listed(o.removed);
  return p;
}
