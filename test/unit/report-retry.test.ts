import { describe, expect, it } from "vitest";
import { backoffMs, retryDelayMs } from "../../github/report-retry.js";

const err = (status: number | undefined, headers: Record<string, string> = {}) => ({ status, response: { headers } });
const NOW = 1_700_000_000_000;

describe("retryDelayMs", () => {
  it("waits what GitHub says on a rate limit", () => {
    expect(retryDelayMs(err(403, { "retry-after": "60" }), 1, NOW)).toBe(60_000);
    expect(retryDelayMs(err(429, { "retry-after": "0" }), 1, NOW)).toBe(1000);
    expect(retryDelayMs(err(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 90) }), 1, NOW)).toBe(90_000);
    expect(retryDelayMs(err(429), 3, NOW)).toBe(4000);
  });

  it("backs off on server and network errors, doubling to at most 5 minutes", () => {
    expect(retryDelayMs(err(502), 1, NOW)).toBe(1000);
    expect(retryDelayMs(new Error("ECONNRESET"), 2, NOW)).toBe(2000);
    expect(backoffMs(20)).toBe(300_000);
  });

  it("drops what retrying cannot fix: a 403 without rate-limit headers, 404, 422", () => {
    expect(retryDelayMs(err(403, { "x-ratelimit-remaining": "4999" }), 1, NOW)).toBeUndefined();
    expect(retryDelayMs(err(404), 1, NOW)).toBeUndefined();
    expect(retryDelayMs(err(422), 1, NOW)).toBeUndefined();
  });
});
