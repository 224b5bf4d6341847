/** The backoff for a report that failed for the n-th time (1-based): 1 s doubling, at most 5 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

interface HttpError {
  status?: number;
  response?: { headers?: Record<string, string | number | undefined> };
}

/**
 * When to try a failed report again, in ms from now, or undefined to drop it. GitHub's rate limits
 * (403/429 with retry-after or an exhausted x-ratelimit-remaining) wait as long as GitHub says; 5xx and
 * errors without a status (network, Postgres) back off; any other 4xx will not get better by retrying.
 */
export function retryDelayMs(err: unknown, attempts: number, now: number): number | undefined {
  const { status, response } = (err ?? {}) as HttpError;
  const headers = response?.headers ?? {};
  if (status === 403 || status === 429) {
    const retryAfter = Number(headers["retry-after"]);
    if (Number.isFinite(retryAfter) && retryAfter >= 0) return Math.max(1000, retryAfter * 1000);
    const reset = Number(headers["x-ratelimit-reset"]);
    if (String(headers["x-ratelimit-remaining"]) === "0" && Number.isFinite(reset)) return Math.max(1000, reset * 1000 - now);
    return status === 429 ? backoffMs(attempts) : undefined;
  }
  if (status === undefined || status >= 500) return backoffMs(attempts);
  return undefined;
}
