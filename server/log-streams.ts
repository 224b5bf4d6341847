import { systemClock, type Clock } from "../core/clock.js";
import { RUNNING_STATES } from "../store/db.js";
import type { LogSlice, LogSource } from "./log-stream-source.js";

/** What a stream writes to: node's ServerResponse, or a fake in tests. */
export interface StreamSink {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  destroy(): unknown;
  readonly writableLength: number;
  once(event: "close", listener: () => void): unknown;
}

export interface LogStreamsOptions {
  clock?: Clock;
  /** How often a watched deployment is read: one query per deployment, whatever its viewers. */
  pollMs?: number;
  /** An SSE comment this often keeps idle proxies from cutting the stream and finds dead clients. */
  heartbeatMs?: number;
  /** A stream ends after this long even if its deployment is stuck; the page reconnects by itself. */
  maxLifetimeMs?: number;
  /**
   * Open streams per remote address. A browser opens at most 6 HTTP/1.1 connections to a host, so a
   * person with a few tabs of running builds fits in 8; more from one address is a script. Behind a
   * proxy every viewer shares its address: then `total` is the limit that counts.
   */
  perClient?: number;
  /**
   * Open streams in all. Each holds a socket and its buffers, and each watched deployment costs a
   * query per poll: 200 bounds that at 200 queries per poll even if all watch different builds,
   * which a pool of 20 answers in a few milliseconds, leaving it to webhooks and workers.
   */
  total?: number;
  /** A client that reads slower than its build writes is cut off here instead of buffered in berth. */
  maxBufferedBytes?: number;
  /** Chunks per poll; a full batch is followed by the next at once, so a long log catches up fast. */
  batch?: number;
  /** A failed poll; the poller retries after a second. */
  onError?: (err: unknown, deploymentId: number) => void;
}

interface Viewer {
  sink: StreamSink;
  client: string;
  poller: Poller;
  /** Id of the last chunk sent. */
  after: bigint;
  /** Last state sent. */
  state: string;
  openedAt: number;
}

interface Poller {
  deploymentId: number;
  viewers: Set<Viewer>;
  stop: AbortController;
  /** A poll that started earlier saw a final state: chunks written just before it have had time to land. */
  finalSeen: boolean;
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" };

/**
 * Live build logs as server-sent events: `log` events carry chunks (ids resume a reconnecting client
 * through Last-Event-ID), `state` events the deployment's state. One poller per watched deployment
 * reads Postgres, where builders in any process write, and fans out to all of its viewers; it starts
 * with the first viewer and stops after the last. A stream ends once its deployment is no longer
 * running (queued, building, releasing), after maxLifetimeMs, or on close().
 */
export class LogStreams {
  readonly #source: LogSource;
  readonly #clock: Clock;
  readonly #opts: Required<Omit<LogStreamsOptions, "clock" | "onError">>;
  readonly #onError: (err: unknown, deploymentId: number) => void;
  readonly #viewers = new Set<Viewer>();
  readonly #perClient = new Map<string, number>();
  readonly #pollers = new Map<number, Poller>();
  readonly #loops = new Set<Promise<void>>();
  #beat: AbortController | undefined;
  #closing = false;

  constructor(source: LogSource, opts: LogStreamsOptions = {}) {
    this.#source = source;
    this.#clock = opts.clock ?? systemClock;
    this.#onError = opts.onError ?? (() => undefined);
    this.#opts = {
      pollMs: opts.pollMs ?? 300,
      heartbeatMs: opts.heartbeatMs ?? 15_000,
      maxLifetimeMs: opts.maxLifetimeMs ?? 30 * 60_000,
      perClient: opts.perClient ?? 8,
      total: opts.total ?? 200,
      maxBufferedBytes: opts.maxBufferedBytes ?? 1 << 20,
      batch: opts.batch ?? 500,
    };
  }

  /**
   * Streams a deployment to sink, or answers 429 (a cap is reached) or 503 (berth is stopping).
   * client is the remote address the per-client cap counts; lastEventId the id a reconnect resumes after.
   */
  open(deploymentId: number, client: string, sink: StreamSink, lastEventId?: string): boolean {
    if (this.#closing) return refuse(sink, 503, "berth is shutting down; reload the page in a moment.");
    if (this.#viewers.size >= this.#opts.total) {
      return refuse(sink, 429, `berth is serving its limit of ${this.#opts.total} live log streams; retry in a minute, or read the log at /deployments/${deploymentId}/log.`);
    }
    const mine = this.#perClient.get(client) ?? 0;
    if (mine >= this.#opts.perClient) {
      return refuse(sink, 429, `Your address has ${mine} live log streams open, the limit; close some of them and retry.`);
    }
    const existing = this.#pollers.get(deploymentId);
    const poller = existing ?? { deploymentId, viewers: new Set(), stop: new AbortController(), finalSeen: false };
    // 18 digits stay below bigint's maximum, which Postgres would refuse in every poll.
    const after = lastEventId && /^\d{1,18}$/.test(lastEventId) ? BigInt(lastEventId) : 0n;
    const viewer: Viewer = { sink, client, poller, after, state: "", openedAt: this.#clock.now() };
    poller.viewers.add(viewer);
    this.#viewers.add(viewer);
    this.#perClient.set(client, mine + 1);
    sink.once("close", () => this.#drop(viewer));
    sink.writeHead(200, SSE_HEADERS);
    sink.write(": berth build log\n\n"); // sends the headers now: the client knows it was admitted
    if (!existing) {
      this.#pollers.set(deploymentId, poller);
      this.#track(this.#poll(poller), deploymentId);
    }
    if (!this.#beat) this.#track(this.#heartbeat((this.#beat = new AbortController())), deploymentId);
    return true;
  }

  /** Whether open() would admit this client now; a page that would be refused does not open a stream. */
  admits(client: string): boolean {
    return !this.#closing && this.#viewers.size < this.#opts.total && (this.#perClient.get(client) ?? 0) < this.#opts.perClient;
  }

  /** Open streams, and deployments being polled for them. */
  get stats(): { viewers: number; pollers: number } {
    return { viewers: this.#viewers.size, pollers: this.#pollers.size };
  }

  /** Ends every stream, refuses new ones, and resolves once no poll is running (the pool may close then). */
  async close(): Promise<void> {
    this.#closing = true;
    for (const v of [...this.#viewers]) this.#end(v);
    this.#beat?.abort();
    while (this.#loops.size > 0) await Promise.all([...this.#loops]);
  }

  async #poll(p: Poller): Promise<void> {
    const signal = p.stop.signal;
    await null; // viewers opened in the same turn share the first poll
    while (!signal.aborted) {
      // Viewers that join during the query wait for the next one, which starts from their cursor.
      const polled = [...p.viewers];
      const after = polled.reduce((min, v) => (v.after < min ? v.after : min), polled[0]?.after ?? 0n);
      let slice: LogSlice | undefined;
      try {
        slice = await this.#source(p.deploymentId, after.toString(), this.#opts.batch);
      } catch (err) {
        this.#onError(err, p.deploymentId);
        await this.#clock.sleep(Math.max(this.#opts.pollMs, 1000), signal).catch(() => undefined);
        continue;
      }
      if (signal.aborted) break;
      const truncated = slice !== undefined && slice.chunks.length >= this.#opts.batch;
      const final = slice === undefined || !RUNNING_STATES.has(slice.state);
      for (const v of polled) {
        if (!p.viewers.has(v)) continue;
        if (slice) this.#deliver(v, slice);
        if (slice === undefined || (final && p.finalSeen && !truncated)) this.#end(v);
      }
      p.finalSeen ||= final;
      if (!truncated) await this.#clock.sleep(this.#opts.pollMs, signal).catch(() => undefined);
    }
  }

  async #heartbeat(stop: AbortController): Promise<void> {
    while (this.#viewers.size > 0) {
      try {
        await this.#clock.sleep(this.#opts.heartbeatMs, stop.signal);
      } catch {
        break;
      }
      const now = this.#clock.now();
      for (const v of [...this.#viewers]) {
        if (now - v.openedAt >= this.#opts.maxLifetimeMs) this.#end(v, ": stream lifetime reached; reconnect to go on\n\n");
        else this.#send(v, ": heartbeat\n\n");
      }
    }
    if (this.#beat === stop) this.#beat = undefined;
  }

  #deliver(v: Viewer, slice: LogSlice): void {
    for (const c of slice.chunks) {
      const id = BigInt(c.id);
      if (id <= v.after) continue;
      this.#send(v, event("log", c.chunk, c.id));
      v.after = id;
    }
    if (slice.state !== v.state) {
      v.state = slice.state;
      this.#send(v, event("state", slice.state));
    }
  }

  #send(v: Viewer, text: string): void {
    if (!this.#viewers.has(v)) return;
    v.sink.write(text);
    if (v.sink.writableLength > this.#opts.maxBufferedBytes) {
      this.#drop(v);
      v.sink.destroy();
    }
  }

  #end(v: Viewer, last?: string): void {
    if (!this.#viewers.has(v)) return;
    this.#drop(v);
    v.sink.end(last);
  }

  /** Forgets a viewer (ended, or its client went away); the last one of a deployment stops its poller. */
  #drop(v: Viewer): void {
    if (!this.#viewers.delete(v)) return;
    const left = (this.#perClient.get(v.client) ?? 1) - 1;
    if (left > 0) this.#perClient.set(v.client, left);
    else this.#perClient.delete(v.client);
    const p = v.poller;
    p.viewers.delete(v);
    if (p.viewers.size === 0) {
      p.stop.abort();
      if (this.#pollers.get(p.deploymentId) === p) this.#pollers.delete(p.deploymentId);
    }
  }

  /** Keeps a loop for close() to wait on; a loop that throws (a defect) is reported, not left unhandled. */
  #track(loop: Promise<void>, deploymentId: number): void {
    const tracked = loop.catch((err: unknown) => this.#onError(err, deploymentId)).finally(() => this.#loops.delete(tracked));
    this.#loops.add(tracked);
  }
}

function event(name: string, data: string, id?: string): string {
  return `${id ? `id: ${id}\n` : ""}event: ${name}\n${data.split("\n").map((l) => `data: ${l}`).join("\n")}\n\n`;
}

function refuse(sink: StreamSink, status: number, error: string): false {
  sink.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "retry-after": "30" });
  sink.end(JSON.stringify({ error }));
  return false;
}
