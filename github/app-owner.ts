import type { Probot } from "probot";
import type { Logger } from "../core/logger.js";

/** How long the App's owner is kept: it changes only when the App is transferred. */
const KEEP_MS = 10 * 60_000;

/**
 * The account that owns berth's GitHub App (`GET /app`), whose admins manage servers and other
 * installation-wide settings. Not the owners of installed repositories: anyone can install a public App
 * on their own account, and must not manage berth's servers for it. Empty when GitHub cannot say (then
 * only the admin token manages servers).
 */
export function appOwner(probot: Probot, log: Logger): () => Promise<string[]> {
  let kept: { owner: string[]; at: number } | undefined;
  return async () => {
    if (kept && Date.now() - kept.at < KEEP_MS) return kept.owner;
    try {
      const octokit = await probot.auth();
      const { data } = await octokit.request("GET /app");
      const login = (data as { owner?: { login?: unknown } } | null)?.owner?.login;
      kept = { owner: typeof login === "string" ? [login] : [], at: Date.now() };
      return kept.owner;
    } catch (err) {
      log.warn({ err }, "could not ask GitHub which account owns the App; only the admin token manages servers meanwhile");
      return [];
    }
  };
}
