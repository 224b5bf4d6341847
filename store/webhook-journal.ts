import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** A verified delivery as berth answered for it, before it is in Postgres. */
export interface JournalEntry {
  deliveryId: string;
  event: string;
  /** What the delivery changes (webhook-topic.ts); null when nothing newer can replace it. */
  topic: string | null;
  /** The body; null for one refused at the door, which is recorded as done without it. */
  payload: string | null;
  /** The field a refused delivery got wrong. */
  refused?: string;
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
}

/** The journal holds as much as it may: the delivery is answered 503 and GitHub is asked for it later. */
export class JournalFull extends Error {}

interface Segment {
  path: string;
  /** Open for appending: the newest segment of this process. */
  fd?: number;
  size: number;
  /** Its entries not yet in Postgres. */
  open: number;
}

interface Pending {
  entry: JournalEntry;
  bytes: number;
  segment: Segment;
}

/** Past this a segment is closed and a new one begun; a closed segment goes once all of it is in Postgres. */
const SEGMENT_BYTES = 8 * 1024 * 1024;
const REUSE_BYTES = 1024 * 1024;
/**
 * Entries older than this are not taken up again: GitHub keeps its delivery log as long, and a record
 * berth processed and has since forgotten (after 7 days) must not come back as new.
 */
const RECOVER_MS = 3 * 86_400_000;

/**
 * Where a webhook is kept from the moment it is verified until it is in Postgres. berth answers GitHub
 * once the delivery is written here, to a file of its own (into the page cache: no other process is woken
 * and nothing waits for the disk), and a mover copies it to Postgres after the answer. On a burst with
 * builds running, waiting for Postgres's answer was most of the time GitHub waited: each insert woke a
 * Postgres backend that had to be scheduled on a busy machine.
 *
 * A berth killed before the mover ran loses nothing: the next start reads the files back (`recover`). A
 * machine that crashes can lose what was not yet flushed, as Postgres without `synchronous_commit` can;
 * berth asks GitHub to deliver again what it answered and has no record of (redelivery-wiring.ts).
 * Memory is bounded: the entries not yet in Postgres are held to `maxBytes` of bodies, past which a
 * delivery is refused (and asked for again once Postgres is back).
 *
 * One line per entry: its fields as JSON, a tab, and the body as it is (JSON text has no raw tab or
 * newline), so a body is not escaped a second time on the answer's path. A line cut short by a crash
 * (no newline after it) was never answered, the answer waiting for the whole write, and is skipped.
 */
export class WebhookJournal {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #pending: Pending[] = [];
  readonly #segments = new Set<Segment>();
  #pendingBytes = 0;
  #current: Segment | undefined;
  #seq = 0;

  constructor(dir: string, maxBytes: number) {
    this.#dir = dir;
    this.#maxBytes = maxBytes;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Takes up what earlier processes of this instance left unrecorded (all of it, whatever the bound:
   * it was answered); a file of a process still running is its own. Returns how many entries.
   */
  recover(isAlive: (pid: number) => boolean = pidAlive): number {
    let count = 0;
    // In the order they were begun (`<pid>-<ms>-<seq>.jsonl`), whichever process began them: the inbox
    // works in the order they are recorded.
    const files = readdirSync(this.#dir)
      .map((name) => ({ name, key: /^(\d+)-(\d+)-(\d+)\.jsonl$/.exec(name) }))
      .filter((f): f is { name: string; key: RegExpExecArray } => f.key !== null)
      .sort((a, b) => Number(a.key[2]) - Number(b.key[2]) || Number(a.key[3]) - Number(b.key[3]));
    for (const { name, key } of files) {
      const pid = Number(key[1]);
      if (pid !== process.pid && isAlive(pid)) continue;
      const segment: Segment = { path: join(this.#dir, name), size: 0, open: 0 };
      const lines = readFileSync(segment.path, "utf8").split("\n");
      lines.pop(); // what follows the last newline: empty, or a line cut short
      for (const line of lines) {
        const entry = parseEntry(line);
        if (entry && entry.receivedAt > Date.now() - RECOVER_MS) this.#hold(entry, Buffer.byteLength(line), segment);
      }
      count += segment.open;
      this.#segments.add(segment);
      this.#release(segment);
    }
    return count;
  }

  /** Writes a delivery down; berth answers once this returns. Throws JournalFull past the bound. */
  append(entry: JournalEntry): void {
    const line = journalLine(entry);
    const bytes = Buffer.byteLength(line);
    if (this.#pendingBytes > 0 && this.#pendingBytes + bytes > this.#maxBytes) throw new JournalFull(`${this.#pending.length} deliveries (${this.#pendingBytes} bytes) are waiting for Postgres`);
    const segment = this.#writable(bytes);
    const buffer = Buffer.from(line);
    let written = 0;
    while (written < buffer.length) written += writeSync(segment.fd as number, buffer, written, buffer.length - written, segment.size + written);
    segment.size += bytes;
    this.#hold(entry, bytes, segment);
  }

  /** The oldest entries not yet in Postgres, at most `count` of them and about `bytes` of bodies. */
  head(count: number, bytes: number): JournalEntry[] {
    const out: JournalEntry[] = [];
    let size = 0;
    for (const p of this.#pending) {
      if (out.length >= count || (out.length > 0 && size + p.bytes > bytes)) break;
      out.push(p.entry);
      size += p.bytes;
    }
    return out;
  }

  /** The oldest `count` entries are in Postgres: their files can go. */
  recorded(count: number): void {
    for (const p of this.#pending.splice(0, count)) {
      this.#pendingBytes -= p.bytes;
      p.segment.open -= 1;
      this.#release(p.segment);
    }
  }

  get size(): number {
    return this.#pending.length;
  }

  /** Whether a delivery is here, not yet in Postgres. */
  holds(deliveryId: string): boolean {
    return this.#pending.some((p) => p.entry.deliveryId === deliveryId);
  }

  /** Closes the files; what is not yet in Postgres stays in them for the next start. */
  close(): void {
    for (const s of [...this.#segments]) {
      if (s.fd === undefined) continue;
      closeSync(s.fd);
      s.fd = undefined;
      this.#release(s);
    }
    this.#current = undefined;
    if (this.#segments.size > 0) return;
    try {
      rmdirSync(this.#dir); // only when empty: another process of this instance may be writing here
    } catch {
      /* not empty */
    }
  }

  #hold(entry: JournalEntry, bytes: number, segment: Segment): void {
    this.#pending.push({ entry, bytes, segment });
    this.#pendingBytes += bytes;
    segment.open += 1;
  }

  #writable(bytes: number): Segment {
    const current = this.#current;
    if (current && current.size + bytes <= SEGMENT_BYTES) return current;
    if (current) {
      // Closed: it goes once the last of it is in Postgres.
      closeSync(current.fd as number);
      current.fd = undefined;
      this.#release(current);
    }
    const path = join(this.#dir, `${process.pid}-${Date.now()}-${String(this.#seq++).padStart(6, "0")}.jsonl`);
    const segment: Segment = { path, fd: openSync(path, "w", 0o600), size: 0, open: 0 };
    this.#segments.add(segment);
    this.#current = segment;
    return segment;
  }

  /**
   * A segment with nothing left for Postgres: a closed one is removed, the open one emptied for reuse once
   * it holds a megabyte (not after every delivery: a truncate is a filesystem transaction of its own).
   */
  #release(segment: Segment): void {
    if (segment.open > 0) return;
    if (segment.fd !== undefined) {
      if (segment.size >= REUSE_BYTES) {
        ftruncateSync(segment.fd, 0);
        segment.size = 0;
      }
      return;
    }
    this.#segments.delete(segment);
    try {
      unlinkSync(segment.path);
    } catch {
      /* already gone */
    }
  }
}

/** An entry as the journal writes it (see WebhookJournal): its fields, a tab, the body, a newline. */
export function journalLine(entry: JournalEntry): string {
  const { payload, ...fields } = entry;
  return `${JSON.stringify(fields)}\t${payload ?? ""}\n`;
}

function parseEntry(line: string): JournalEntry | undefined {
  const tab = line.indexOf("\t");
  if (tab < 0) return undefined;
  try {
    const e = JSON.parse(line.slice(0, tab)) as Partial<JournalEntry>;
    const ok = typeof e.deliveryId === "string" && typeof e.event === "string" && typeof e.receivedAt === "number";
    return ok ? ({ ...e, payload: line.slice(tab + 1) || null } as JournalEntry) : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
