import { describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { pickRedeliveries, redeliverMissed, type HookDelivery } from "../../github/hook-redelivery.js";

const at = (s: number): string => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
const delivery = (id: number, guid: string, second: number, status_code: number, redelivery = false): HookDelivery => ({
  id,
  guid,
  delivered_at: at(second),
  redelivery,
  status_code,
  status: status_code >= 200 && status_code < 300 ? "OK" : `Invalid HTTP Response: ${status_code}`,
  event: "push",
});

describe("pickRedeliveries", () => {
  const since = new Date(at(10));

  it("picks deliveries that failed since the last healthy moment, once per guid (its latest attempt), in push order", () => {
    const list = [delivery(5, "c", 30, 500, true), delivery(4, "b", 25, 0), delivery(3, "c", 20, 503), delivery(2, "a", 15, 200), delivery(1, "old", 5, 500)];
    expect(pickRedeliveries(list, since, new Set()).map((d) => d.id)).toEqual([5, 4]); // c was first pushed at :20, b at :25
  });

  it("skips a guid a later attempt delivered, and one this process asked for already", () => {
    const list = [delivery(3, "a", 20, 200, true), delivery(2, "a", 15, 500), delivery(1, "b", 12, 502)];
    expect(pickRedeliveries(list, since, new Set(["b"]))).toEqual([]);
  });

  it("counts a 2xx with a status other than OK as failed (GitHub timed out waiting)", () => {
    const timedOut = { ...delivery(1, "a", 12, 200), status: "timed out" };
    expect(pickRedeliveries([timedOut], since, new Set()).map((d) => d.id)).toEqual([1]);
  });

  it("also picks answered deliveries of the events berth records (a crash may have lost their record), never others", () => {
    const ping = { ...delivery(3, "p", 22, 200), event: "ping" };
    const list = [ping, delivery(2, "answered", 20, 200), delivery(1, "old", 5, 200)];
    expect(pickRedeliveries(list, since, new Set()).map((d) => d.guid)).toEqual([]);
    expect(pickRedeliveries(list, since, new Set(), new Set(["push"])).map((d) => d.guid)).toEqual(["answered"]);
  });

  it("asks again only for what berth never recorded, and remembers what it asked for", async () => {
    const asked = new Set<string>();
    const redelivered: number[] = [];
    const port = { since: async () => [delivery(2, "recorded", 20, 0), delivery(1, "lost", 15, 0)], redeliver: async (id: number) => void redelivered.push(id) };
    const log = createLogger("silent");
    expect(await redeliverMissed(port, since, asked, log, async () => new Set(["recorded"]))).toEqual(["lost"]);
    expect(redelivered).toEqual([1]);
    expect(await redeliverMissed(port, since, asked, log, async () => new Set(["recorded"]))).toEqual([]);
  });
});
