import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../core/logger.js";
import type { IngressAddress } from "../releaser/served-probe.js";
import type { WakeOutcome } from "../releaser/sleep.js";
import { readBody } from "./respond.js";
import { PREVIEW_AUTH_PATH } from "./preview-gate.js";

/** What the waker asks of the sleeper: wake the environment behind a hostname. */
export interface WakeTarget {
  wakeHostname(hostname: string): Promise<WakeOutcome>;
}

export interface WakerOptions {
  /** Where the front-door proxy listens: a woken request is sent through it, so the app answers. */
  ingress: IngressAddress;
  /** Requests held at once, over all hostnames; more get 503 at once. */
  maxHeld?: number;
  /** Largest request body held; larger ones get 413 (the app never sees them). */
  maxBodyBytes?: number;
  /** How long a request waits for its environment's wake before 503 with Retry-After. */
  wakeDeadlineMs: number;
  /** Caddy's on-demand TLS ask: whether berth serves a hostname (only those get a certificate). */
  knows?: (hostname: string) => Promise<boolean>;
  /** berth's own hostname (BERTH_PUBLIC_URL's), routed here by the proxy and handed to berth's HTTP server. */
  self?: { hostname: string; handle: (req: IncomingMessage, res: ServerResponse) => void; upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void };
  /** The proxy's forward_auth for protected environments (server/preview-gate.ts), asked on this address. */
  gate?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/** The path Caddy asks on (`?domain=`); only on the waker's own address, never under an app's hostname. */
export const TLS_ASK_PATH = "/.berth/tls-ask";

const HOSTNAME = /^[a-z0-9.-]{1,253}$/;
// Hop-by-hop headers (RFC 9110 7.6.1): they describe one connection, not the request.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"]);

/**
 * berth's waker: the upstream of every sleeping hostname. It holds each request, has the sleeper wake
 * the environment (concurrent requests share one wake), and once the route points at the app again
 * sends the request through the front-door proxy with its own Host, so the app itself answers it — no
 * error page, no redirect. Only a failed or overlong wake is answered here: 503 with Retry-After.
 */
export class Waker {
  readonly #server: http.Server;
  /** Marks requests this waker sent on: one that comes back means the route was not switched. */
  readonly #loopToken = randomBytes(12).toString("hex");
  #held = 0;
  #listening: Promise<string> | undefined;
  /** The address it listens on: requests with it as Host are Caddy's own (the TLS ask). */
  #address: string | undefined;

  constructor(
    private readonly target: WakeTarget,
    private readonly options: WakerOptions,
    private readonly log: Logger,
  ) {
    this.#server = http.createServer({ headersTimeout: 10_000, requestTimeout: options.wakeDeadlineMs + 60_000 }, (req, res) => {
      void this.#handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, "waker failed to answer");
        if (!res.headersSent) unavailable(res, "berth could not wake this app; try again shortly.");
        else res.destroy();
      });
    });
    // berth's own hostname takes WebSockets too (the exec terminal); nothing else upgrades here.
    this.#server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const hostname = (req.headers.host ?? "").toLowerCase().replace(/:\d+$/, "");
      const self = this.options.self;
      if (self?.upgrade && hostname === self.hostname) self.upgrade(req, socket, head);
      else socket.destroy();
    });
  }

  /**
   * Listens on the given address (the proxy network's gateway) once; resolves `address:port` for the
   * proxy's route. The preferred port first: the same one every start, so the routes berth wrote before a
   * restart (sleeping hostnames, the TLS ask, the preview gate) reach the new process at once rather than
   * after the first reconciler pass rewrites them; any free port when it is taken.
   */
  listen(address: string, preferredPort = 0): Promise<string> {
    this.#listening ??= this.#bind(address, preferredPort)
      .catch((e: unknown) => {
        if (preferredPort === 0 || (e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
        this.log.warn({ address, port: preferredPort }, "the waker's usual port is taken; listening on another, which routes get at the next pass");
        return this.#bind(address, 0);
      })
      .catch((e: unknown) => {
        this.#listening = undefined;
        throw e;
      });
    return this.#listening;
  }

  #bind(address: string, port: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, address, () => {
        this.#server.off("error", reject);
        const a = this.#server.address() as AddressInfo;
        this.#address = a.address;
        this.log.info({ address: a.address, port: a.port }, "waker listening for sleeping environments");
        resolve(`${a.address}:${a.port}`);
      });
    });
  }

  async close(): Promise<void> {
    if (!this.#listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostname = (req.headers.host ?? "").toLowerCase().replace(/:\d+$/, "");
    if (!HOSTNAME.test(hostname)) return void plain(res, 400, "Bad Host header.\n");
    if (hostname === this.#address && this.options.gate && (req.url ?? "").split("?")[0] === PREVIEW_AUTH_PATH) return this.options.gate(req, res);
    if (hostname === this.#address) return this.#ask(req, res);
    if (this.options.self && hostname === this.options.self.hostname) return this.options.self.handle(req, res);
    if (req.headers["x-berth-woken"] === this.#loopToken) {
      this.log.error({ hostname }, "a woken request came back to the waker: the proxy still routes the hostname here");
      return unavailable(res, "This app woke, but its route did not switch back yet; try again shortly.");
    }
    const max = this.options.maxHeld ?? 256;
    if (this.#held >= max) return unavailable(res, "Too many requests are waiting for apps to wake; try again shortly.");
    this.#held++;
    try {
      const body = await readBody(req, this.options.maxBodyBytes ?? 1 << 20);
      if (!body) return void plain(res, 413, "This app is waking up; send large bodies again once it answers.\n");
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), this.options.wakeDeadlineMs)));
      const outcome = await Promise.race([this.target.wakeHostname(hostname), deadline]).catch((err: unknown) => {
        this.log.warn({ err, hostname }, "wake failed");
        return "failed" as const;
      }).finally(() => clearTimeout(timer));
      if (outcome === "unknown") return void plain(res, 404, "No berth app is served at this host.\n");
      if (outcome === "late" || outcome === "failed") return unavailable(res, "This app could not be woken in time; try again shortly.");
      await this.#forward(req, res, hostname, body);
    } finally {
      this.#held--;
    }
  }

  /** Caddy asks before it obtains a certificate for a hostname: 200 for one berth serves, 404 otherwise. */
  async #ask(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://waker");
    const domain = (url.searchParams.get("domain") ?? "").toLowerCase();
    if (url.pathname !== TLS_ASK_PATH || !HOSTNAME.test(domain) || !this.options.knows) return void plain(res, 404, "No.\n");
    const known = domain === this.options.self?.hostname || (await this.options.knows(domain));
    if (!known) this.log.info({ domain }, "refused a certificate for a hostname berth does not serve");
    plain(res, known ? 200 : 404, known ? "Yes.\n" : "No.\n");
  }

  /** Sends the held request through the front door, as the client sent it, and streams the app's answer back. */
  #forward(req: IncomingMessage, res: ServerResponse, hostname: string, body: Buffer): Promise<void> {
    const a = this.options.ingress;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    headers["content-length"] = String(body.length);
    headers["x-berth-woken"] = this.#loopToken;
    const options = { host: a.address, method: req.method, path: req.url ?? "/", headers, agent: false as const };
    return new Promise<void>((resolve) => {
      const onResponse = (upstream: IncomingMessage): void => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstream.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        res.writeHead(upstream.statusCode ?? 502, out);
        upstream.pipe(res);
        upstream.on("end", resolve);
        upstream.on("error", () => {
          res.destroy();
          resolve();
        });
      };
      // Under TLS the front door is the HTTPS port with the hostname's SNI; its certificate may be the
      // proxy's internal one, and this connection never leaves the host.
      const out = a.tls
        ? https.request({ ...options, port: a.httpsPort, servername: hostname, rejectUnauthorized: false }, onResponse)
        : http.request({ ...options, port: a.httpPort }, onResponse);
      out.on("error", (err) => {
        this.log.warn({ err, hostname }, "could not send a woken request through the proxy");
        if (!res.headersSent) unavailable(res, "This app woke, but did not answer; try again shortly.");
        else res.destroy();
        resolve();
      });
      res.on("close", () => out.destroy());
      out.end(body);
    });
  }
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...extra });
  res.end(text);
}

function unavailable(res: ServerResponse, text: string): void {
  plain(res, 503, `${text}\n`, { "retry-after": "5" });
}
