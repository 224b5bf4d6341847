import { WebSocket, type ClientOptions } from "ws";

/** What an exec session sent back: stdout, stderr, the exit code, or the HTTP refusal of the upgrade. */
export interface ExecResult {
  status?: number;
  error?: string;
  stdout: string;
  stderr: string;
  code: number | null;
  messages: string[];
}

/**
 * Runs one exec session against berth's WebSocket (server/exec-socket.ts) as the CLI would: input
 * sent, then `eof`, output collected by stream until berth closes.
 */
export function execOnce(url: string, headers: Record<string, string>, input = "", timeoutMs = 30_000, options: ClientOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws"), { ...options, headers });
    const r: ExecResult = { stdout: "", stderr: "", code: null, messages: [] };
    const timer = setTimeout(() => (ws.terminate(), reject(new Error(`exec did not end within ${timeoutMs} ms: ${JSON.stringify(r)}`))), timeoutMs);
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ ...r, status: res.statusCode, error: (JSON.parse(body) as { error: string }).error });
      });
    });
    ws.on("error", (e) => (clearTimeout(timer), reject(e)));
    ws.on("open", () => {
      if (input) ws.send(Buffer.from(input), { binary: true });
      ws.send(JSON.stringify({ type: "eof" }));
    });
    ws.on("message", (data: Buffer, binary: boolean) => {
      if (!binary) {
        const m = JSON.parse(data.toString()) as { type: string; code?: number; message?: string };
        r.messages.push(data.toString());
        if (m.type === "exit") r.code = m.code ?? null;
        return;
      }
      if (data[0] === 2) r.stderr += data.subarray(1).toString();
      else r.stdout += data.subarray(1).toString();
    });
    ws.on("close", () => (clearTimeout(timer), resolve({ ...r, status: 101 })));
  });
}

/** An exec URL of berth for an app, with the query's words. */
export function execUrl(berthUrl: string, app: string, q: Record<string, string | string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) for (const w of [v].flat()) p.append(k, w);
  return `${berthUrl}/api/v1/apps/${app}/exec?${p}`;
}
