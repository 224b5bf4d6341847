import { Probot, ProbotOctokit } from "probot";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import { enterpriseFetch } from "./enterprise-fetch.js";

/**
 * A stand-in for one of Octokit's throttling groups (a Bottleneck.Group) that lets every request through
 * at once. Octokit's throttling spaces writes a second apart per installation (`write`) and comments
 * three seconds apart (`notifications`) by holding them in memory, first come first served. berth's
 * report sender already keeps GitHub's pace (write-pacer.ts) and picks the most urgent report at each
 * turn; a second pace behind it would put back the fixed second between writes. Rate-limit answers
 * (403/429) still reach the plugin's handlers and the outbox's retries.
 */
const unpaced = { key: () => ({ schedule: <T>(_options: unknown, job: () => Promise<T>): Promise<T> => job() }) };

/** Probot's Octokit, with its write and notification pacing left to berth's report sender. */
const UnpacedOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  throttle: { ...(options.throttle as object | undefined), write: unpaced, notifications: unpaced },
}));

/** The GitHub App's Probot (installation tokens, Octokit with retries), or undefined before /setup registered one. */
export function createProbot(config: Config, log: Logger): Probot | undefined {
  if (!config.github) return undefined;
  return new Probot({
    appId: config.github.appId,
    privateKey: config.github.privateKey.unwrap(),
    secret: config.github.webhookSecret.unwrap(),
    baseUrl: config.githubApiUrl,
    request: { fetch: enterpriseFetch(config.githubApiUrl) },
    log: log.child({ component: "probot" }),
    Octokit: UnpacedOctokit,
  });
}
