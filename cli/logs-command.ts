import { parseArgs } from "node:util";

export const LOGS_USAGE = `  berth logs <app> [-f] [--env production|pr-<N>] [--process <name>] [--tail <N>]   (runtime logs; -f follows)`;

/**
 * `berth logs …`: the runtime logs of an app environment's containers, streamed from
 * GET /api/v1/apps/{app}/logs (newline-delimited JSON) and printed as `process  line` as they come.
 * The exit code, or undefined when the arguments do not fit.
 */
export async function logsCommand(argv: string[], o: { base: string; token: string; out: (s: string) => void; err: (s: string) => void }): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { follow: { type: "boolean", short: "f" }, env: { type: "string" }, process: { type: "string" }, tail: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || (values.tail !== undefined && !/^\d{1,5}$/.test(values.tail))) return undefined;
  const q = new URLSearchParams({ environment: values.env ?? "production", tail: values.tail ?? "100", follow: String(Boolean(values.follow)) });
  if (values.process) q.set("process", values.process);
  const res = await fetch(`${o.base}/api/v1/apps/${encodeURIComponent(positionals[0]!)}/logs?${q}`, { headers: { authorization: `Bearer ${o.token}` } });
  if (!res.ok || !res.body) {
    const text = await res.text();
    o.err(`berth: ${(() => { try { return (JSON.parse(text) as { error?: string }).error ?? text; } catch { return text || `HTTP ${res.status}`; } })()}`);
    return 1;
  }
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const l = JSON.parse(buf.slice(0, nl)) as { process?: string; line?: string; error?: string };
      buf = buf.slice(nl + 1);
      if (l.error) o.err(`berth: ${l.error}`);
      else o.out(`${(l.process ?? "").padEnd(8)} ${l.line ?? ""}`);
    }
  }
  return 0;
}
