import { describe, expect, it } from "vitest";
import { TraceFormatter, decodeTrace, protoFields } from "../../builder/buildkit-trace.js";

// The trace payloads engine 20.10 sent for `FROM berth-standin/busybox:latest` + `RUN printf "hi\nthere" && exit 3`.
const FAILED_BUILD = [
  "Cm8KR3NoYTI1NjoxMTA1MDgxOWYyMDA3ODVkNGFiOWUxOTQ0Njk1MjhhZTNhNDk0MTUyODFlOTUwNzMxZDVlYTk1YTYzMGI4Zjk2GiRbaW50ZXJuYWxdIGxvYWQgcmVtb3RlIGJ1aWxkIGNvbnRleHQ=",
  "Cn0KR3NoYTI1NjoxMTA1MDgxOWYyMDA3ODVkNGFiOWUxOTQ0Njk1MjhhZTNhNDk0MTUyODFlOTUwNzMxZDVlYTk1YTYzMGI4Zjk2GiRbaW50ZXJuYWxdIGxvYWQgcmVtb3RlIGJ1aWxkIGNvbnRleHQqDAjhiZzYBhD2zMCoAw==",
  "CosBCkdzaGEyNTY6MTEwNTA4MTlmMjAwNzg1ZDRhYjllMTk0NDY5NTI4YWUzYTQ5NDE1MjgxZTk1MDczMWQ1ZWE5NWE2MzBiOGY5NhokW2ludGVybmFsXSBsb2FkIHJlbW90ZSBidWlsZCBjb250ZXh0KgwI4Ymc2AYQ9szAqAMyDAjhiZzYBhDXs6mqAw==",
  "CosBCkdzaGEyNTY6MTEwNTA4MTlmMjAwNzg1ZDRhYjllMTk0NDY5NTI4YWUzYTQ5NDE1MjgxZTk1MDczMWQ1ZWE5NWE2MzBiOGY5NhokW2ludGVybmFsXSBsb2FkIHJlbW90ZSBidWlsZCBjb250ZXh0KgwI4Ymc2AYQsPG3qgMyDAjhiZzYBhCNqriqAw==",
  "CqMBCkdzaGEyNTY6NzUzNmMwZjY5NjAzMDBjNGQ5NTA5NzMxZDBkYTgwNGQxOTNmYjE2MTZmZGE1MThlMGI2YjI4ODkzZDMyYWE2ZRJHc2hhMjU2OjExMDUwODE5ZjIwMDc4NWQ0YWI5ZTE5NDQ2OTUyOGFlM2E0OTQxNTI4MWU5NTA3MzFkNWVhOTVhNjMwYjhmOTYaD2NvcHkgL2NvbnRleHQgLw==",
  "CrEBCkdzaGEyNTY6NzUzNmMwZjY5NjAzMDBjNGQ5NTA5NzMxZDBkYTgwNGQxOTNmYjE2MTZmZGE1MThlMGI2YjI4ODkzZDMyYWE2ZRJHc2hhMjU2OjExMDUwODE5ZjIwMDc4NWQ0YWI5ZTE5NDQ2OTUyOGFlM2E0OTQxNTI4MWU5NTA3MzFkNWVhOTVhNjMwYjhmOTYaD2NvcHkgL2NvbnRleHQgLyoMCOGJnNgGEOqnwKsD",
  "Cr8BCkdzaGEyNTY6NzUzNmMwZjY5NjAzMDBjNGQ5NTA5NzMxZDBkYTgwNGQxOTNmYjE2MTZmZGE1MThlMGI2YjI4ODkzZDMyYWE2ZRJHc2hhMjU2OjExMDUwODE5ZjIwMDc4NWQ0YWI5ZTE5NDQ2OTUyOGFlM2E0OTQxNTI4MWU5NTA3MzFkNWVhOTVhNjMwYjhmOTYaD2NvcHkgL2NvbnRleHQgLyoMCOGJnNgGEOqnwKsDMgwI4Ymc2AYQpYLbywM=",
  "CqoBCkdzaGEyNTY6Zjg2MzczMTBhOThkZTY4YzYxMTUzYmQzYWYzNzAwNTkwOTU3YmQ1MzBlNTdiMTkzMGE0YjczMmNmNWU3YmIwMhpDW2ludGVybmFsXSBsb2FkIG1ldGFkYXRhIGZvciBkb2NrZXIuaW8vYmVydGgtc3RhbmRpbi9idXN5Ym94OmxhdGVzdCoMCOGJnNgGEK7KidEDMgwI4Ymc2AYQzZuT0QMKfApHc2hhMjU2OmUwZmE3YzQ2MjE2NjlkODVhZTY0YTE3NWRlYTBiYjZjYjQ2NzBmOWFkMDRhZDA2ZGY0NzE3MTI3NDc2MjFlNzcaMVsxLzJdIEZST00gZG9ja2VyLmlvL2JlcnRoLXN0YW5kaW4vYnVzeWJveDpsYXRlc3QKugEKR3NoYTI1NjozMDliZGMzMWE2MjQ0ZjA4MzY4MDM1OTRiMjY4MjRjNjQ4Nzk4ZWIyN2M4YzY1ZmQ5N2I5NmJjZGRiOWE1NjY3EkdzaGEyNTY6ZTBmYTdjNDYyMTY2OWQ4NWFlNjRhMTc1ZGVhMGJiNmNiNDY3MGY5YWQwNGFkMDZkZjQ3MTcxMjc0NzYyMWU3NxomWzIvMl0gUlVOIHByaW50ZiAiaGlcbnRoZXJlIiAmJiBleGl0IDM=",
  "CpoBCkdzaGEyNTY6ZTBmYTdjNDYyMTY2OWQ4NWFlNjRhMTc1ZGVhMGJiNmNiNDY3MGY5YWQwNGFkMDZkZjQ3MTcxMjc0NzYyMWU3NxoxWzEvMl0gRlJPTSBkb2NrZXIuaW8vYmVydGgtc3RhbmRpbi9idXN5Ym94OmxhdGVzdCABKgwI4Ymc2AYQxea+0wMyDAjhiZzYBhCBgsDTAw==",
  "CsgBCkdzaGEyNTY6MzA5YmRjMzFhNjI0NGYwODM2ODAzNTk0YjI2ODI0YzY0ODc5OGViMjdjOGM2NWZkOTdiOTZiY2RkYjlhNTY2NxJHc2hhMjU2OmUwZmE3YzQ2MjE2NjlkODVhZTY0YTE3NWRlYTBiYjZjYjQ2NzBmOWFkMDRhZDA2ZGY0NzE3MTI3NDc2MjFlNzcaJlsyLzJdIFJVTiBwcmludGYgImhpXG50aGVyZSIgJiYgZXhpdCAzKgwI4Ymc2AYQ2Or30wM=",
  "GmIKR3NoYTI1NjozMDliZGMzMWE2MjQ0ZjA4MzY4MDM1OTRiMjY4MjRjNjQ4Nzk4ZWIyN2M4YzY1ZmQ5N2I5NmJjZGRiOWE1NjY3EgsI4omc2AYQ2fyJcxgBIghoaQp0aGVyZQ==",
  "CqYCCkdzaGEyNTY6MzA5YmRjMzFhNjI0NGYwODM2ODAzNTk0YjI2ODI0YzY0ODc5OGViMjdjOGM2NWZkOTdiOTZiY2RkYjlhNTY2NxJHc2hhMjU2OmUwZmE3YzQ2MjE2NjlkODVhZTY0YTE3NWRlYTBiYjZjYjQ2NzBmOWFkMDRhZDA2ZGY0NzE3MTI3NDc2MjFlNzcaJlsyLzJdIFJVTiBwcmludGYgImhpXG50aGVyZSIgJiYgZXhpdCAzKgwI4Ymc2AYQ2Or30wMyCwjiiZzYBhCeoPN7Ok9leGVjdXRvciBmYWlsZWQgcnVubmluZyBbL2Jpbi9zaCAtYyBwcmludGYgImhpXG50aGVyZSIgJiYgZXhpdCAzXTogZXhpdCBjb2RlOiAz",
];

// A minimal protobuf encoder for hand-made StatusResponse messages.
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  return [...out, n];
};
const field = (no: number, v: number | string | Buffer): Buffer => {
  if (typeof v === "number") return Buffer.from([...varint(no * 8), ...varint(v)]);
  const b = Buffer.from(v);
  return Buffer.concat([Buffer.from([...varint(no * 8 + 2), ...varint(b.length)]), b]);
};
const ts = (ms: number): Buffer => Buffer.concat([field(1, Math.floor(ms / 1000)), field(2, (ms % 1000) * 1e6)]);
const T0 = 1_700_000_000_000;

interface V {
  digest: string;
  name: string;
  cached?: boolean;
  started?: number;
  completed?: number;
  error?: string;
}
const vertex = (v: V): Buffer =>
  field(
    1,
    Buffer.concat([
      field(1, v.digest),
      field(2, "sha256:input"),
      field(3, v.name),
      ...(v.cached ? [field(4, 1)] : []),
      ...(v.started !== undefined ? [field(5, ts(v.started))] : []),
      ...(v.completed !== undefined ? [field(6, ts(v.completed))] : []),
      ...(v.error ? [field(7, v.error)] : []),
    ]),
  );
const status = (vtx: string, id: string, current: number, total: number, started: number, completed?: number): Buffer =>
  field(2, Buffer.concat([field(1, id), field(2, vtx), field(4, current), field(5, total), field(6, ts(completed ?? started)), field(7, ts(started)), ...(completed ? [field(8, ts(completed))] : [])]));
const log = (vtx: string, msg: string): Buffer => field(3, Buffer.concat([field(1, vtx), field(2, ts(T0)), field(3, 1), field(4, msg)]));
const warning = (vtx: string, short: string): Buffer => field(4, Buffer.concat([field(1, vtx), field(2, 1), field(3, short)]));
const update = (...parts: Buffer[]): string => Buffer.concat(parts).toString("base64");

describe("BuildKit trace decoding", () => {
  it("renders a real failed build like buildx --progress=plain", () => {
    const f = new TraceFormatter();
    expect(FAILED_BUILD.map((aux) => f.push(aux)).join("") + f.flush()).toBe(
      [
        "#1 [internal] load remote build context",
        "#1 DONE 0.0s",
        "",
        "#2 copy /context /",
        "#2 DONE 0.1s",
        "",
        "#3 [internal] load metadata for docker.io/berth-standin/busybox:latest",
        "#3 DONE 0.0s",
        "",
        "#4 [1/2] FROM docker.io/berth-standin/busybox:latest",
        "#4 CACHED",
        "",
        '#5 [2/2] RUN printf "hi\\nthere" && exit 3',
        "#5 hi",
        "#5 there",
        '#5 ERROR: executor failed running [/bin/sh -c printf "hi\\nthere" && exit 3]: exit code: 3',
        "",
      ].join("\n"),
    );
  });

  it("decodes vertex fields, including a vertex announced before it starts", () => {
    const first = decodeTrace(FAILED_BUILD[0]!);
    expect(first.vertexes).toEqual([{ digest: "sha256:11050819f200785d4ab9e194469528ae3a49415281e950731d5ea95a630b8f96", name: "[internal] load remote build context", cached: false }]);
    expect(first.statuses).toEqual([]);
    expect(first.logs).toEqual([]);
  });

  it("numbers steps in the order they start and prints queued steps only once they run", () => {
    const f = new TraceFormatter();
    expect(f.push(update(vertex({ digest: "a", name: "[1/2] FROM base" }), vertex({ digest: "b", name: "[2/2] RUN make" })))).toBe("");
    expect(f.push(update(vertex({ digest: "b", name: "[2/2] RUN make", started: T0 })))).toBe("#1 [2/2] RUN make\n");
    expect(f.push(update(vertex({ digest: "a", name: "[1/2] FROM base", started: T0, completed: T0, cached: true })))).toBe("\n#2 [1/2] FROM base\n#2 CACHED\n");
    expect(f.push(update(vertex({ digest: "b", name: "[2/2] RUN make", started: T0, completed: T0 + 2300 })))).toBe("#1 DONE 2.3s\n");
    // BuildKit repeats finished vertexes in later updates; they are reported once.
    expect(f.push(update(vertex({ digest: "b", name: "[2/2] RUN make", started: T0, completed: T0 + 2300 })))).toBe("");
  });

  it("finishes a running step before announcing one that starts in the same update", () => {
    const f = new TraceFormatter();
    f.push(update(vertex({ digest: "a", name: "RUN sleep 3", started: T0 })));
    expect(f.push(update(vertex({ digest: "b", name: "RUN make", started: T0 + 3000 }), log("a", "slept\n"), vertex({ digest: "a", name: "RUN sleep 3", started: T0, completed: T0 + 3000 }), log("b", "cc -c\n")))).toBe(
      "#1 slept\n#1 DONE 3.0s\n\n#2 RUN make\n#2 cc -c\n",
    );
  });

  it("joins output cut mid-line and flushes the unterminated rest when the step ends", () => {
    const f = new TraceFormatter();
    f.push(update(vertex({ digest: "a", name: "RUN build", started: T0 })));
    expect(f.push(update(log("a", "com")))).toBe("");
    expect(f.push(update(log("a", "piling\r\nok\nno newline")))).toBe("#1 compiling\n#1 ok\n");
    expect(f.push(update(vertex({ digest: "a", name: "RUN build", started: T0, completed: T0 + 500 })))).toBe("#1 no newline\n#1 DONE 0.5s\n");
  });

  it("shows finished sub-tasks with sizes, errors, cancellation and warnings", () => {
    const f = new TraceFormatter();
    f.push(update(vertex({ digest: "a", name: "[internal] load build context", started: T0 }), vertex({ digest: "b", name: "RUN sleep 9", started: T0 })));
    expect(f.push(update(status("a", "transferring context", 1200, 4_000_000, T0)))).toBe("");
    expect(f.push(update(status("a", "transferring context", 4_000_000, 4_000_000, T0, T0 + 700)))).toBe("#1 transferring context 4.00MB / 4.00MB 0.7s done\n");
    expect(f.push(update(status("a", "naming to docker.io/x", 0, 0, T0, T0)))).toBe("#1 naming to docker.io/x done\n");
    expect(f.push(update(warning("a", "FromAsCasing: 'as' and 'FROM' keywords' casing do not match")))).toBe("#1 WARN: FromAsCasing: 'as' and 'FROM' keywords' casing do not match\n");
    expect(f.push(update(vertex({ digest: "a", name: "[internal] load build context", started: T0, completed: T0 + 1, error: "failed to read dockerfile" })))).toBe(
      "#1 ERROR: failed to read dockerfile\n",
    );
    expect(f.push(update(log("b", "half a line"), vertex({ digest: "b", name: "RUN sleep 9", started: T0, completed: T0 + 1, error: "executor failed: context canceled" })))).toBe(
      "#2 half a line\n#2 CANCELED\n",
    );
  });

  it("returns held-back output of steps that never finished on flush", () => {
    const f = new TraceFormatter();
    f.push(update(vertex({ digest: "a", name: "RUN x", started: T0 }), log("a", "last words")));
    expect(f.flush()).toBe("#1 last words\n");
    expect(f.flush()).toBe("");
  });

  it("reads varints wider than 32 bits and skips fixed-width fields", () => {
    const buf = Buffer.concat([field(4, 5_000_000_000), Buffer.from([0x29, 1, 2, 3, 4, 5, 6, 7, 8]), field(3, "x")]);
    expect(protoFields(buf)).toEqual([
      { field: 4, value: 5_000_000_000 },
      { field: 3, value: Buffer.from("x") },
    ]);
    expect(() => protoFields(Buffer.from([0x0a, 5, 1]))).toThrow("truncated protobuf field");
  });
});
