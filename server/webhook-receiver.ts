import { createNodeMiddleware, Webhooks } from "@octokit/webhooks";
import type { Logger } from "../core/logger.js";
import type { WebhookMiddleware } from "./http-server.js";

/** The events berth records and works on; it answers others (ping, …) without recording them. */
export const RECORDED_EVENTS: ReadonlySet<string> = new Set(["push", "pull_request", "check_run", "installation", "installation_repositories"]);

/** A verified delivery as the receiver hands it over. */
export interface ReceivedDelivery {
  id: string;
  name: string;
  payload: unknown;
}

/**
 * GitHub's webhooks, verified against X-Hub-Signature-256 and answered by @octokit/webhooks' middleware
 * (the one Probot wraps, so the answers are the same: 400 for a forged or unsigned delivery, 500 when
 * the handler fails, 200 after it). Probot's own wrapping also built, for every delivery, a Context with
 * an installation-authenticated Octokit (throttling and retry plugins included) and a child logger, which
 * berth's handler never used: in a profiled burst of 6,000 deliveries that was 1.6 s of the event loop
 * and much of the garbage collected while answering.
 */
export function webhookReceiver(opts: {
  secret: string;
  path: string;
  events: ReadonlySet<string>;
  handle: (delivery: ReceivedDelivery) => Promise<void>;
  /** A delivery failed verification or its handler threw (after it was answered). */
  onError: () => void;
  log: Logger;
}): WebhookMiddleware {
  const webhooks = new Webhooks({ secret: opts.secret });
  webhooks.onAny(async (event) => {
    if (opts.events.has(event.name)) await opts.handle({ id: event.id, name: event.name, payload: event.payload });
  });
  webhooks.onError((error) => {
    for (const err of error.errors ?? [error]) opts.log.error({ err, deliveryId: error.event?.id }, "webhook delivery failed");
    opts.onError();
  });
  return createNodeMiddleware(webhooks, { path: opts.path, log: opts.log }) as WebhookMiddleware;
}
