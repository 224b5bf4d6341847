import type { IncomingMessage, ServerResponse } from "node:http";
import { sendError } from "./respond.js";

/** GitHub caps webhook payloads at 25 MB; a larger body is not a GitHub delivery. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

const REQUIRED = ["x-github-event", "x-github-delivery", "x-hub-signature-256"] as const;

/**
 * Reads a webhook body for Probot without ever buffering more than GitHub can send: a declared
 * Content-Length over the cap is refused with 413 before a byte is read, and a body that grows past it
 * while streaming is cut off the same way. A request missing GitHub's headers is refused before its
 * body is read at all. Returns the body text, set as `req.body` for Probot to verify; undefined when
 * this already answered.
 */
export async function takeWebhookBody(req: IncomingMessage & { body?: unknown }, res: ServerResponse, maxBytes = MAX_WEBHOOK_BYTES): Promise<string | undefined> {
  if (req.method !== "POST") {
    sendError(res, 405, "Webhooks are POSTed.");
    return undefined;
  }
  const missing = REQUIRED.filter((h) => typeof req.headers[h] !== "string");
  if (missing.length > 0) {
    refuse(req, res, 400, `Not a GitHub delivery: missing ${missing.join(", ")}.`);
    return undefined;
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    refuse(req, res, 413, `Webhook bodies are at most ${maxBytes} bytes.`);
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        refuse(req, res, 413, `Webhook bodies are at most ${maxBytes} bytes.`);
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
  } catch {
    if (!res.headersSent) refuse(req, res, 400, "The request body could not be read.");
    return undefined;
  }
  const body = Buffer.concat(chunks).toString("utf8");
  req.body = body;
  return body;
}

/** How long a refused body is drained (read and dropped, never kept) so the client can read the answer. */
const LINGER_MS = 1000;

/**
 * Answers, then drops the connection. Closing at once with the client's bytes unread would reset
 * the connection, which can destroy the answer before the client reads it (Node closes that way on
 * `connection: close`), so the rest of the body is discarded for a moment first, as nginx's
 * lingering close does; nothing of it is kept.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  const socket = req.socket; // detached from req once the exchange ends
  sendError(res, status, message);
  req.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
