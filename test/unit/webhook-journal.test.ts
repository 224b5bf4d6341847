import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { startDeliveryMover } from "../../server/delivery-mover.js";
import { journalLine, JournalFull, WebhookJournal, type JournalEntry } from "../../store/webhook-journal.js";

const entry = (id: string, payload: string | null = JSON.stringify({ id })): JournalEntry => ({ deliveryId: id, event: "push", topic: `push:1:refs/heads/${id}`, payload, receivedAt: Date.now() });
const ids = (entries: readonly JournalEntry[]): string[] => entries.map((e) => e.deliveryId);

describe("WebhookJournal", () => {
  let dir: string;
  beforeEach(() => (dir = join(mkdtempSync(join(tmpdir(), "berth-journal-")), "instance")));
  afterEach(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

  it("keeps what it was given, in order, until it is recorded, and is empty on disk after", () => {
    const j = new WebhookJournal(dir, 1 << 20);
    for (const id of ["a", "b", "c"]) j.append(entry(id));
    expect(ids(j.head(2, 1 << 20))).toEqual(["a", "b"]);
    expect(j.holds("c")).toBe(true);
    j.recorded(2);
    expect(ids(j.head(10, 1 << 20))).toEqual(["c"]);
    j.recorded(1);
    expect(j.size).toBe(0);
    j.close();
    expect(existsSync(dir)).toBe(false); // nothing left: not even the directory
  });

  it("gives a crashed run's entries back to the next, skipping a line cut short and ones GitHub no longer keeps", () => {
    const first = new WebhookJournal(dir, 1 << 20);
    for (const id of ["a", "b", "c"]) first.append(entry(id));
    first.recorded(1); // "a" reached Postgres; the process is killed here (no close)
    const [file] = readdirSync(dir);
    appendFileSync(join(dir, file as string), journalLine(entry("torn")).slice(0, -5)); // cut inside its body
    writeFileSync(join(dir, "1-0-000000.jsonl"), journalLine({ ...entry("ancient"), receivedAt: Date.now() - 4 * 86_400_000 }));
    const next = new WebhookJournal(dir, 1 << 20);
    // A file of a process still running is its own; one of a dead process (or of this pid, reused) is taken up.
    expect(next.recover(() => false)).toBe(3);
    expect(ids(next.head(10, 1 << 20))).toEqual(["a", "b", "c"]); // "a" again: recording is idempotent by guid
    next.recorded(3);
    next.close();
    expect(existsSync(dir)).toBe(false);
  });

  it("leaves the files of another live process of the same instance alone", () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "999999-0-000000.jsonl"), journalLine(entry("theirs")));
    const j = new WebhookJournal(dir, 1 << 20);
    expect(j.recover((pid) => pid === 999999)).toBe(0);
    j.close();
    expect(readdirSync(dir)).toEqual(["999999-0-000000.jsonl"]);
  });

  it("takes files up in the order they were begun, whichever process began them", () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "311-2000-000000.jsonl"), journalLine(entry("newer"))); // a later process, a lower pid
    writeFileSync(join(dir, "4521-1000-000001.jsonl"), journalLine(entry("older")));
    const j = new WebhookJournal(dir, 1 << 20);
    expect(j.recover(() => false)).toBe(2);
    expect(ids(j.head(10, 1 << 20))).toEqual(["older", "newer"]);
    j.close();
  });

  it("refuses past its bound, but always takes one delivery however large", () => {
    const j = new WebhookJournal(dir, 1000);
    j.append(entry("big", "x".repeat(5000)));
    expect(() => j.append(entry("more"))).toThrow(JournalFull);
    j.recorded(1);
    j.append(entry("more"));
    expect(ids(j.head(10, 1 << 20))).toEqual(["more"]);
    j.close();
  });

  it("hands out batches bounded in bytes, at least one entry each", () => {
    const j = new WebhookJournal(dir, 1 << 20);
    for (const id of ["a", "b", "c"]) j.append(entry(id, "y".repeat(300)));
    expect(ids(j.head(10, 700))).toEqual(["a"]);
    expect(ids(j.head(10, 100))).toEqual(["a"]);
    j.close();
  });

  it("removes a full segment once all of it is recorded", () => {
    const j = new WebhookJournal(dir, 64 << 20);
    const body = "z".repeat(1 << 20);
    for (let i = 0; i < 9; i++) j.append(entry(`e${i}`, body)); // 8 MiB segments: the 9th starts a second file
    expect(readdirSync(dir)).toHaveLength(2);
    j.recorded(8);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(readFileSync(join(dir, readdirSync(dir)[0] as string), "utf8")).toContain('"e8"');
    j.close();
  });
});

describe("startDeliveryMover", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "berth-mover-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const log = createLogger("silent");
  const settled = async (until: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it("records in arrival order, batching what arrives while an insert runs, and retries after a failure", async () => {
    const j = new WebhookJournal(dir, 1 << 20);
    const inserts: string[][] = [];
    let failures = 1;
    let woken = 0;
    let unhealthy = 0;
    const mover = startDeliveryMover({
      journal: j,
      record: async (entries) => {
        await new Promise((r) => setTimeout(r, 20));
        if (failures-- > 0) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        inserts.push(ids(entries));
        return entries.length;
      },
      onRecorded: () => woken++,
      onFailure: () => unhealthy++,
      log,
    });
    j.append(entry("a"));
    mover.wake();
    for (const id of ["b", "c"]) (j.append(entry(id)), mover.wake());
    await settled(() => j.size === 0);
    expect(inserts).toEqual([["a", "b", "c"]]); // the failed insert's three, again, in one
    expect([woken, unhealthy]).toEqual([1, 1]);
    expect(mover.failing()).toBe(false); // recording again: GitHub may be asked for what was refused meanwhile
    j.append(entry("d"));
    mover.wake();
    await settled(() => j.size === 0);
    expect(inserts.at(-1)).toEqual(["d"]);
    await mover.stop(1000);
  });

  it("drops only the delivery Postgres refuses as data, after trying the others alone", async () => {
    const j = new WebhookJournal(dir, 1 << 20);
    const recorded: string[] = [];
    const mover = startDeliveryMover({
      journal: j,
      record: async (entries) => {
        if (entries.some((e) => e.deliveryId === "bad")) throw Object.assign(new Error("invalid byte sequence"), { code: "22021" });
        recorded.push(...ids(entries));
        return entries.length;
      },
      onRecorded: () => undefined,
      onFailure: () => undefined,
      log,
    });
    for (const id of ["a", "bad", "c"]) j.append(entry(id));
    mover.wake();
    await settled(() => j.size === 0);
    expect(recorded).toEqual(["a", "c"]);
    await mover.stop(1000);
  });

  it("stops within its time while Postgres is away, leaving the journal for the next start", async () => {
    const j = new WebhookJournal(dir, 1 << 20);
    const mover = startDeliveryMover({ journal: j, record: async () => Promise.reject(new Error("down")), onRecorded: () => undefined, onFailure: () => undefined, log });
    j.append(entry("a"));
    mover.wake();
    await settled(() => mover.failing());
    const t = Date.now();
    await mover.stop(2000);
    expect(Date.now() - t).toBeLessThan(1000);
    j.close();
    expect(readdirSync(dir)).toHaveLength(1);
  });
});
