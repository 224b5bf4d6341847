/** A commit id as berth accepts it from a webhook: exactly 40 lower-case hex characters. */
const SHA = /^[0-9a-f]{40}$/;
// GitHub's own rules: owners are letters, digits and single hyphens (not leading); repositories add . and _.
const FULL_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export function isSha(value: unknown): value is string {
  return typeof value === "string" && SHA.test(value);
}

/** `owner/repo` as GitHub names repositories; nothing else reaches a URL or argv. */
export function isRepoFullName(value: unknown): value is string {
  return typeof value === "string" && FULL_NAME.test(value) && !value.split("/")[1]!.startsWith(".");
}

/**
 * The git URL of a repository on the configured GitHub (github.com or the Enterprise host), derived
 * from its `full_name`, never taken from a payload's `clone_url`: a webhook field must not choose
 * where berth sends its installation token, nor become a git option.
 */
export function cloneUrlFor(githubWebUrl: string, fullName: string): string {
  if (!isRepoFullName(fullName)) throw new Error(`refusing to fetch from a repository named ${JSON.stringify(fullName)}`);
  return `${githubWebUrl.replace(/\/+$/, "")}/${fullName}.git`;
}
