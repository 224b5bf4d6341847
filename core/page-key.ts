import { createHmac, timingSafeEqual } from "node:crypto";
import type { Sensitive } from "./sensitive.js";

/**
 * The unguessable key in a deployment page's URL. Build logs of private repositories must not be
 * readable by walking sequential ids, yet the link in a check run has to open without a login; an
 * HMAC of the id under a server secret gives both, with nothing stored.
 */
export function pageKey(secret: Sensitive, deploymentId: number): string {
  return createHmac("sha256", secret.unwrap()).update(`deployment-page:${deploymentId}`).digest("hex").slice(0, 24);
}

export function pageKeyMatches(secret: Sensitive, deploymentId: number, given: string | null): boolean {
  const want = Buffer.from(pageKey(secret, deploymentId));
  const got = Buffer.from(given ?? "");
  return got.length === want.length && timingSafeEqual(got, want);
}
