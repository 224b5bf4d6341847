/** One field of a protobuf message: varints as numbers, length-delimited fields as raw bytes. */
export interface ProtoField {
  field: number;
  value: number | Buffer;
}

/** Splits a protobuf message into its fields in wire order (no schema; fixed-width fields are skipped). */
export function protoFields(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): number => {
    // Multiplication rather than bit shifts: int64 timestamps and sizes do not fit in 32 bits.
    let result = 0;
    for (let scale = 1; ; scale *= 128) {
      if (pos >= buf.length) throw new Error("truncated protobuf varint");
      const byte = buf[pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) out.push({ field, value: varint() });
    else if (wire === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Error("truncated protobuf field");
      out.push({ field, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

/** A build step as BuildKit reports it (moby.buildkit.v1.Vertex); times in epoch milliseconds. */
export interface TraceVertex {
  digest: string;
  name: string;
  cached: boolean;
  started?: number;
  completed?: number;
  error?: string;
}

/** Progress of a sub-task of a step, such as a context transfer (moby.buildkit.v1.VertexStatus). */
export interface TraceStatus {
  id: string;
  vertex: string;
  current: number;
  total: number;
  started?: number;
  completed?: number;
}

/** Output a step wrote (moby.buildkit.v1.VertexLog). */
export interface TraceLog {
  vertex: string;
  msg: Buffer;
}

/** A warning BuildKit attached to a step (newer engines only). */
export interface TraceWarning {
  vertex: string;
  short: string;
}

/** A decoded moby.buildkit.v1.StatusResponse. */
export interface TraceUpdate {
  vertexes: TraceVertex[];
  statuses: TraceStatus[];
  logs: TraceLog[];
  warnings: TraceWarning[];
}

const str = (v: number | Buffer): string => (Buffer.isBuffer(v) ? v.toString("utf8") : "");
const num = (v: number | Buffer): number => (typeof v === "number" ? v : 0);
const bytes = (v: number | Buffer): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

function timestamp(v: number | Buffer): number {
  let seconds = 0;
  let nanos = 0;
  for (const f of protoFields(bytes(v))) {
    if (f.field === 1) seconds = num(f.value);
    else if (f.field === 2) nanos = num(f.value);
  }
  return seconds * 1000 + nanos / 1e6;
}

function vertex(buf: Buffer): TraceVertex {
  const v: TraceVertex = { digest: "", name: "", cached: false };
  for (const { field, value } of protoFields(buf)) {
    if (field === 1) v.digest = str(value);
    else if (field === 3) v.name = str(value);
    else if (field === 4) v.cached = num(value) !== 0;
    else if (field === 5) v.started = timestamp(value);
    else if (field === 6) v.completed = timestamp(value);
    else if (field === 7) v.error = str(value);
  }
  return v;
}

function status(buf: Buffer): TraceStatus {
  const s: TraceStatus = { id: "", vertex: "", current: 0, total: 0 };
  for (const { field, value } of protoFields(buf)) {
    if (field === 1) s.id = str(value);
    else if (field === 2) s.vertex = str(value);
    else if (field === 4) s.current = num(value);
    else if (field === 5) s.total = num(value);
    else if (field === 7) s.started = timestamp(value);
    else if (field === 8) s.completed = timestamp(value);
  }
  return s;
}

/** Decodes the base64 `aux` of a `moby.buildkit.trace` build message. */
export function decodeTrace(aux: string | Buffer): TraceUpdate {
  const update: TraceUpdate = { vertexes: [], statuses: [], logs: [], warnings: [] };
  for (const { field, value } of protoFields(Buffer.isBuffer(aux) ? aux : Buffer.from(aux, "base64"))) {
    const buf = bytes(value);
    if (field === 1) update.vertexes.push(vertex(buf));
    else if (field === 2) update.statuses.push(status(buf));
    else if (field === 3) {
      const log: TraceLog = { vertex: "", msg: Buffer.alloc(0) };
      for (const f of protoFields(buf)) {
        if (f.field === 1) log.vertex = str(f.value);
        else if (f.field === 4) log.msg = bytes(f.value);
      }
      update.logs.push(log);
    } else if (field === 4) {
      const w: TraceWarning = { vertex: "", short: "" };
      for (const f of protoFields(buf)) {
        if (f.field === 1) w.vertex = str(f.value);
        else if (f.field === 3) w.short = str(f.value);
      }
      update.warnings.push(w);
    }
  }
  return update;
}

function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n}B` : `${n.toFixed(2)}${units[i]}`;
}

interface VertexState {
  n: number;
  /** Output not yet ended by a newline: BuildKit cuts logs at arbitrary byte boundaries. */
  partial: string;
  done: boolean;
}

/** Turns BuildKit trace updates into a plain build log like `docker buildx build --progress=plain`. */
export class TraceFormatter {
  readonly #vertexes = new Map<string, VertexState>();

  /** Decodes one trace payload and returns the log text it adds (possibly empty). */
  push(aux: string | Buffer): string {
    return this.format(decodeTrace(aux));
  }

  /** Returns the log text for one decoded update. */
  format(update: TraceUpdate): string {
    // Steps already under way go first, so their output and completion precede a step starting in the same update.
    const known = (d: string): boolean => this.#vertexes.has(d);
    const digests = [...update.statuses.map((s) => s.vertex), ...update.logs.map((l) => l.vertex), ...update.vertexes.map((v) => v.digest)];
    let out = "";
    for (const digest of new Set([...digests.filter(known), ...digests.filter((d) => !known(d))])) {
      out += this.#step(
        digest,
        update.vertexes.filter((v) => v.digest === digest),
        update.statuses.filter((s) => s.vertex === digest),
        update.logs.filter((l) => l.vertex === digest),
      );
    }
    for (const w of update.warnings) {
      const state = this.#vertexes.get(w.vertex);
      out += `${state ? `#${state.n} ` : ""}WARN: ${w.short}\n`;
    }
    return out;
  }

  #step(digest: string, vertexes: TraceVertex[], statuses: TraceStatus[], logs: TraceLog[]): string {
    let out = "";
    let state = this.#vertexes.get(digest);
    // A vertex is first announced queued (no start time); it gets a number once it runs or is cached.
    const begun = vertexes.find((v) => v.started !== undefined || v.completed !== undefined);
    if (!state && begun) {
      state = { n: this.#vertexes.size + 1, partial: "", done: false };
      this.#vertexes.set(digest, state);
      out += `${state.n === 1 ? "" : "\n"}#${state.n} ${begun.name}\n`;
    }
    if (!state) return out;
    for (const s of statuses) {
      // Only finished sub-tasks: intermediate byte counts would flood a stored log.
      if (s.completed === undefined) continue;
      const size = s.total ? ` ${formatBytes(s.current)} / ${formatBytes(s.total)}` : s.current ? ` ${formatBytes(s.current)}` : "";
      const secs = s.started !== undefined ? (s.completed - s.started) / 1000 : 0;
      out += `#${state.n} ${s.id}${size}${secs > 0.01 ? ` ${secs.toFixed(1)}s` : ""} done\n`;
    }
    for (const l of logs) {
      const lines = (state.partial + l.msg.toString("utf8")).split("\n");
      state.partial = lines.pop() ?? "";
      for (const line of lines) out += `#${state.n} ${line.replace(/\r$/, "")}\n`;
    }
    const end = vertexes.find((v) => v.completed !== undefined);
    if (end?.completed === undefined || state.done) return out;
    state.done = true;
    out += this.#flushPartial(state);
    if (end.error) out += /context canceled$/.test(end.error) ? `#${state.n} CANCELED\n` : `#${state.n} ERROR: ${end.error}\n`;
    else if (end.cached) out += `#${state.n} CACHED\n`;
    else out += `#${state.n} DONE ${((end.completed - (end.started ?? end.completed)) / 1000).toFixed(1)}s\n`;
    return out;
  }

  /** Log text still held back (unterminated output of steps that never completed). */
  flush(): string {
    let out = "";
    for (const state of this.#vertexes.values()) out += this.#flushPartial(state);
    return out;
  }

  #flushPartial(state: VertexState): string {
    const text = state.partial ? `#${state.n} ${state.partial}\n` : "";
    state.partial = "";
    return text;
  }
}
