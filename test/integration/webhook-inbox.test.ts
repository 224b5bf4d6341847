import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { Sensitive } from "../../core/sensitive.js";
import { WebhookProcessor, type DeliveryHandler } from "../../server/webhook-processor.js";
import { createDb, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { recordDeliveries } from "../../store/webhook-inbox.js";
import { freshDatabase, waitFor } from "../support/services.js";

const log = createLogger("silent");

describe("webhook inbox (Postgres)", () => {
  let db: Db;
  let other: Db; // a second pool stands in for a second berth process
  let drop: () => Promise<void>;
  let processors: WebhookProcessor[] = [];

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url), 4);
    other = createDb(new Sensitive(fresh.url), 4);
    await migrate(db);
  });
  beforeEach(async () => {
    await Promise.all(processors.map((p) => p.stop()));
    processors = [];
    await db.deleteFrom("webhook_deliveries").execute();
  });
  afterAll(async () => {
    await Promise.all(processors.map((p) => p.stop()));
    await db.destroy();
    await other.destroy();
    await drop();
  });

  const record = async (id: string, topic: string | null, body: unknown = { id }) => (await recordDeliveries(db, [{ deliveryId: id, event: "push", topic, payload: JSON.stringify(body), receivedAt: Date.now() }])) === 1;
  const start = (pool: Db, push: DeliveryHandler, opts = {}) => {
    const p = new WebhookProcessor(pool, { push }, log, { pollMs: 50, ...opts });
    processors.push(p);
    p.start();
    return p;
  };
  const rows = () => db.selectFrom("webhook_deliveries").select(["delivery_id", "outcome", "payload", "attempts", "error"]).orderBy("id").execute();
  const allProcessed = async () => (await db.selectFrom("webhook_deliveries").select("id").where("processed_at", "is", null).execute()).length === 0;

  it("records a delivery once, whatever GitHub redelivers", async () => {
    expect(await record("g1", null)).toBe(true);
    expect(await record("g1", null)).toBe(false);
    expect(await rows()).toHaveLength(1);
  });

  it("processes what waited while no processor ran, each topic's newest only, and drops the bodies", async () => {
    for (const [id, topic] of [["a1", "push:1:main"], ["b1", "pr:1:7"], ["n1", null], ["a2", "push:1:main"], ["a3", "push:1:main"]] as const) await record(id, topic);
    const ran: string[] = [];
    start(db, async (id, payload) => {
      ran.push(`${id}=${(payload as { id: string }).id}`);
      return "queued";
    });
    await waitFor("all processed", allProcessed, 10_000, 20);
    expect(ran).toEqual(["b1=b1", "n1=n1", "a3=a3"]);
    expect((await rows()).map((r) => [r.delivery_id, r.outcome, r.payload])).toEqual([
      ["a1", "superseded by a3", null],
      ["b1", "queued", null],
      ["n1", "queued", null],
      ["a2", "superseded by a3", null],
      ["a3", "queued", null],
    ]);
  });

  it("processes each delivery once with two processes recording and working side by side", async () => {
    const ran: string[] = [];
    const handler: DeliveryHandler = async (id) => {
      ran.push(id);
      await new Promise((r) => setTimeout(r, 2));
      return "queued";
    };
    const one = start(db, handler);
    const two = start(other, handler);
    for (let i = 0; i < 60; i++) {
      await record(`d${i}`, null);
      (i % 2 ? one : two).wake();
    }
    await waitFor("all processed", allProcessed, 20_000, 20);
    expect(ran.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `d${i}`).sort());
  });

  it("tries a failing delivery again with backoff, and gives up after its attempts", async () => {
    await record("flaky", null);
    await record("broken", null);
    let flakyCalls = 0;
    start(db, async (id) => {
      if (id === "broken") throw new Error("no such thing");
      if (++flakyCalls === 1) throw new Error("Redis is away");
      return "queued";
    }, { maxAttempts: 2 });
    await waitFor("all processed", allProcessed, 10_000, 20);
    const byId = Object.fromEntries((await rows()).map((r) => [r.delivery_id, r]));
    expect(byId.flaky).toMatchObject({ outcome: "queued", attempts: 1, error: null });
    expect(byId.broken).toMatchObject({ outcome: "failed", attempts: 1, error: "no such thing" });
  });

  it("does not run a retried delivery after a newer one of its topic was processed while it waited", async () => {
    await record("old", "push:1:main");
    const ran: string[] = [];
    const p = start(db, async (id) => {
      ran.push(id);
      if (id === "old") throw new Error("Postgres went away mid-way");
      return "queued";
    });
    await waitFor("first attempt", () => ran.includes("old"), 5_000, 10);
    await record("new", "push:1:main");
    p.wake();
    await waitFor("all processed", allProcessed, 10_000, 20);
    expect(ran).toEqual(["old", "new"]);
    expect((await rows()).map((r) => [r.delivery_id, r.outcome])).toEqual([["old", "superseded by new"], ["new", "queued"]]);
  });
});
