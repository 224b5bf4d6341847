import type { ServerResponse } from "node:http";
import type { Db } from "../store/db.js";

const FINAL = new Set(["live", "failed", "cancelled", "removed", "skipped"]);

/**
 * Streams a deployment's log as server-sent events while it runs: `log` events carry new chunks
 * (polled from Postgres, where builders in any process write them), `state` events the deployment's
 * state; the stream ends after the final state. Reconnecting clients resume from Last-Event-ID.
 */
export async function streamLog(db: Db, deploymentId: number, res: ServerResponse, lastEventId: string | undefined, pollMs = 300): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  let after = lastEventId && /^\d+$/.test(lastEventId) ? lastEventId : "0";
  let state = "";
  let closed = false;
  res.on("close", () => (closed = true));
  const send = (event: string, data: string, id?: string): void => {
    res.write(`${id ? `id: ${id}\n` : ""}event: ${event}\n${data.split("\n").map((l) => `data: ${l}`).join("\n")}\n\n`);
  };
  const deadline = Date.now() + 60 * 60_000; // a stuck deployment does not hold a connection forever
  while (!closed && Date.now() < deadline) {
    const row = await db.selectFrom("deployments").select("state").where("id", "=", deploymentId).executeTakeFirst();
    const chunks = await db
      .selectFrom("build_logs")
      .select(["id", "chunk"])
      .where("deployment_id", "=", deploymentId)
      .where("id", ">", after)
      .orderBy("id")
      .limit(500)
      .execute();
    for (const c of chunks) {
      send("log", c.chunk, c.id);
      after = c.id;
    }
    if (row && row.state !== state) {
      state = row.state;
      send("state", state);
    }
    if (!row || (FINAL.has(state) && chunks.length === 0)) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  res.end();
}
