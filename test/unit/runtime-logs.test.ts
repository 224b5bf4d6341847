import { describe, expect, it } from "vitest";
import { lines, processOf, splitTimestamp } from "../../releaser/container-logs.js";
import { parseLogQuery } from "../../server/runtime-logs.js";

const q = (s: string) => parseLogQuery(new URLSearchParams(s));

describe("runtime logs", () => {
  it("read environment, process, tail and follow from the query, refusing what they cannot be", () => {
    expect(q("")).toEqual({ environment: "production", process: undefined, tail: 100, follow: false });
    expect(q("environment=pr-7&process=worker&tail=0&follow=true")).toEqual({ environment: "pr-7", process: "worker", tail: 0, follow: true });
    expect(q("environment=staging")).toBe("environment is production or pr-<N>.");
    expect(q("process=../x")).toBe("process is web, a process type of berth.yaml or a service name.");
    expect(q("tail=-1")).toBe("tail is a number of lines from 0 to 10000 (per container).");
    expect(q("tail=10001")).toBe("tail is a number of lines from 0 to 10000 (per container).");
    expect(q("follow=yes")).toBe("follow is true or false.");
  });

  it("name a container's process from its labels", () => {
    expect(processOf({ "berth.role": "web" })).toBe("web");
    expect(processOf({ "berth.role": "process", "berth.process": "worker" })).toBe("worker");
    expect(processOf({ "berth.role": "service", "berth.service": "db" })).toBe("db");
  });

  it("split Docker's timestamp from the line", () => {
    expect(splitTimestamp("2026-11-30T10:00:00.123456789Z hello world")).toEqual({ time: "2026-11-30T10:00:00.123456789Z", line: "hello world" });
    expect(splitTimestamp("no stamp here")).toEqual({ time: "", line: "no stamp here" });
  });

  it("split a stream into lines across chunks and multi-byte characters, cutting an endless line into pieces", async () => {
    const euro = Buffer.from("€");
    const chunks = [Buffer.from("a\r\nb"), euro.subarray(0, 1), Buffer.concat([euro.subarray(1), Buffer.from("\nlast")])];
    const out: string[] = [];
    for await (const l of lines((async function* () { yield* chunks; })())) out.push(l);
    expect(out).toEqual(["a", "b€", "last"]);
    const long: string[] = [];
    for await (const l of lines((async function* () { yield "x".repeat(40_000); })())) long.push(l);
    expect(long.map((l) => l.length)).toEqual([16_384, 16_384, 7_232]);
  });
});
