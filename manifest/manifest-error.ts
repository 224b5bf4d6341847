import { UserError } from "../core/errors.js";

/** A key path inside the manifest: mapping keys and list indexes, outermost first. */
export type ManifestPath = readonly (string | number)[];

/** One problem in berth.yaml; `path` is empty for problems of the file as a whole (YAML syntax). */
export interface ManifestIssue {
  path: string;
  /** 1-based line of the key (or list item) the problem is about. */
  line: number;
  message: string;
}

/** An annotation for a GitHub check run, in the REST API's field names. */
export interface ManifestAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure";
  title: string;
  message: string;
}

/** berth.yaml is invalid: the repository owner's to fix, so a UserError (shown on the check run, never retried). */
export class ManifestError extends UserError {
  constructor(readonly issues: readonly ManifestIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

/** `services.db.volumes[0] (line 14): expected …`, or `line 3: …` for the file as a whole. */
export function formatIssue(issue: ManifestIssue): string {
  return issue.path ? `${issue.path} (line ${issue.line}): ${issue.message}` : `line ${issue.line}: ${issue.message}`;
}

/** `services.db.volumes[0]`; keys that are not plain words are quoted: `files["/etc/nginx.conf"]`. */
export function formatPath(path: ManifestPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/**
 * The issues as check-run annotations on the manifest file. `file` is its path in the repository
 * (berth.yaml may live in `build.context`). GitHub takes at most 50 annotations per request; batching
 * is the reporter's business.
 */
export function manifestAnnotations(issues: readonly ManifestIssue[], file = "berth.yaml"): ManifestAnnotation[] {
  return issues.map((issue) => ({
    path: file,
    start_line: issue.line,
    end_line: issue.line,
    annotation_level: "failure",
    title: issue.path || file,
    message: issue.message,
  }));
}
