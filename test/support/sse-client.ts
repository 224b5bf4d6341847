import { get } from "node:http";

export interface StreamEnd {
  /** 0 when the request failed before a response. */
  status: number;
  body: string;
  /** The server ended the response (false: the connection broke first). */
  complete: boolean;
  /** Date.now() at the end. */
  at: number;
  error?: string;
}

export interface OpenStream {
  /** The status, once the headers arrived (0 when the request failed). */
  headers: Promise<number>;
  /** Resolves (never rejects) when the response is over. */
  done: Promise<StreamEnd>;
  /** What arrived so far. */
  text(): string;
  close(): void;
}

/**
 * A GET held open like a browser's EventSource, from a local address of its own (any of 127/8 on
 * Linux), so one test process can be many clients to a per-address limit.
 */
export function openStream(url: string, localAddress?: string): OpenStream {
  let body = "";
  let status = 0;
  let onHeaders: (s: number) => void = () => undefined;
  let onDone: (e: StreamEnd) => void = () => undefined;
  const headers = new Promise<number>((r) => (onHeaders = r));
  const done = new Promise<StreamEnd>((r) => (onDone = r));
  const req = get(url, { agent: false, localAddress, headers: { accept: "text/event-stream" } }, (res) => {
    status = res.statusCode ?? 0;
    onHeaders(status);
    res.setEncoding("utf8");
    res.on("data", (d: string) => (body += d));
    res.on("close", () => onDone({ status, body, complete: res.complete, at: Date.now() }));
  });
  req.on("error", (err) => {
    onHeaders(status);
    onDone({ status, body, complete: false, at: Date.now(), error: err.message });
  });
  return { headers, done, text: () => body, close: () => req.destroy() };
}

/** The data of every `state` event in an SSE body, in order. */
export const statesIn = (body: string): string[] => [...body.matchAll(/^event: state\ndata: (\w+)$/gm)].map((m) => m[1] ?? "");

/** Times GET url in a loop, one request at a time, until stop(); returns each latency in ms and each non-200. */
export function sampleLatency(url: string): { stop: () => Promise<{ ms: number[]; failures: string[] }> } {
  const ms: number[] = [];
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        const r = await fetch(url);
        const text = await r.text();
        if (r.status !== 200) failures.push(`${r.status} ${text}`);
      } catch (e) {
        failures.push(String(e));
      }
      ms.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ms, failures };
    },
  };
}

/** "p50 X ms, max Y ms (n samples)". */
export function summarize(ms: number[]): { p50: number; max: number; text: string } {
  const sorted = [...ms].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  const max = sorted.at(-1) ?? NaN;
  return { p50, max, text: `p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms (${sorted.length} samples)` };
}
