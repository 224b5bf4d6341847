import { EventEmitter } from "node:events";
import { Duplex, PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type Docker from "dockerode";
import type { WebSocket } from "ws";
import { DEFAULT_SHELL, parseControl, parseExecQuery, pickContainer, sameOrigin } from "../../server/exec-request.js";
import { bridgeExec, type ExecEnd } from "../../server/exec-bridge.js";
import { pagePolicy } from "../../server/html-page.js";

const q = (s: string) => parseExecQuery(new URLSearchParams(s));

describe("exec requests", () => {
  it("parses the query with defaults: production, web, a shell, a TTY of 80x24", () => {
    expect(q("")).toEqual({ environment: "production", container: "web", cmd: DEFAULT_SHELL, tty: true, cols: 80, rows: 24 });
    expect(q("environment=pr-7&container=worker&cmd=ls&cmd=-la&tty=false&cols=120&rows=40")).toEqual({ environment: "pr-7", container: "worker", cmd: ["ls", "-la"], tty: false, cols: 120, rows: 40 });
  });

  it("refuses hostile values with a message saying what is expected", () => {
    expect(q("environment=../x")).toBe("environment is production or pr-<N>.");
    expect(q("container=" + encodeURIComponent("web;rm"))).toMatch(/^container is web/);
    expect(q("container=" + "a".repeat(129))).toMatch(/^container is web/);
    expect(q(Array(65).fill("cmd=x").join("&"))).toBe("cmd has at most 64 words.");
    expect(q("cmd=" + "x".repeat(8193))).toBe("cmd has at most 8192 bytes.");
    expect(q("cmd=a%00b")).toBe("cmd words cannot hold NUL bytes.");
    expect(q("tty=yes")).toBe("tty is true or false.");
    expect(q("cols=0")).toBe("cols is a number from 1 to 1000.");
    expect(q("rows=99999")).toBe("rows is a number from 1 to 1000.");
  });

  it("picks a running container of the environment by process or name, never anything else", () => {
    const cs = [
      { id: "a1", name: "shop-web-1", process: "web", running: true },
      { id: "b2", name: "shop-worker-1", process: "worker", running: true },
      { id: "c3", name: "shop-db-1", process: "db", running: false },
    ];
    expect(pickContainer(cs, "web")).toBe(cs[0]);
    expect(pickContainer(cs, "shop-worker-1")).toBe(cs[1]);
    expect(pickContainer(cs, "a1")).toBe("no running container a1 in this environment; its processes: web, worker.");
    expect(pickContainer(cs, "db")).toBe("no running container db in this environment; its processes: web, worker.");
    expect(pickContainer([], "web")).toBe("no containers run in this environment.");
  });

  it("reads control frames and ignores anything else", () => {
    expect(parseControl('{"type":"resize","cols":100,"rows":30}')).toEqual({ type: "resize", cols: 100, rows: 30 });
    expect(parseControl('{"type":"eof"}')).toEqual({ type: "eof" });
    expect(parseControl('{"type":"resize","cols":0,"rows":30}')).toBeUndefined();
    expect(parseControl('{"type":"resize","cols":1e9,"rows":30}')).toBeUndefined();
    expect(parseControl("not json")).toBeUndefined();
    expect(parseControl("null")).toBeUndefined();
  });

  it("accepts only BERTH_PUBLIC_URL's origin for a browser's upgrade", () => {
    expect(sameOrigin("https://berth.example.com", "https://berth.example.com/")).toBe(true);
    expect(sameOrigin("https://berth.example.com.evil.io", "https://berth.example.com")).toBe(false);
    expect(sameOrigin("http://berth.example.com", "https://berth.example.com")).toBe(false);
    expect(sameOrigin("null", "https://berth.example.com")).toBe(false);
    expect(sameOrigin(undefined, "https://berth.example.com")).toBe(false);
  });

  it("lets the terminal page load berth's own assets, and no other page anything but its hashed scripts", () => {
    expect(pagePolicy('<link rel="stylesheet" href="/assets/xterm/xterm.css"><script src="/assets/xterm/xterm.js"></script><script>go()</script>')).toMatch(/script-src 'self' 'sha256-[^']+'; style-src 'self' 'unsafe-inline';/);
    expect(pagePolicy('<script src="https://cdn.example/x.js"></script>')).toContain("script-src 'none'; style-src 'unsafe-inline';");
  });
});

/** A WebSocket stand-in: what berth sent, and events to raise as a client would. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: (string | Buffer)[] = [];
  closed?: string;
  send(data: string | Buffer): void {
    this.sent.push(data);
  }
  close(_code: number, reason: string): void {
    this.closed = reason;
    this.readyState = 3;
  }
}

describe("exec bridge", () => {
  const fakeExec = (exitCode: number) => ({ inspect: async () => ({ Running: false, ExitCode: exitCode }), resize: async () => {} }) as unknown as Docker.Exec;

  it("closes an idle session, and one open too long, saying why in a text frame", async () => {
    for (const [limits, reason] of [[{ idleMs: 30, maxMs: 10_000 }, "idle"], [{ idleMs: 10_000, maxMs: 30 }, "too long"]] as const) {
      const ws = new FakeSocket();
      const ended = new Promise<ExecEnd>((resolve) => bridgeExec(ws as unknown as WebSocket, fakeExec(0), new PassThrough(), { tty: true, demux: () => {} }, limits, resolve));
      expect((await ended).reason).toBe(reason);
      expect(ws.closed).toBe(reason);
      expect(JSON.parse(ws.sent.at(-1) as string)).toMatchObject({ type: "error" });
    }
  });

  it("sends output with its stream byte, stdin to the command, and the exit code last", async () => {
    const ws = new FakeSocket();
    const stdin = new PassThrough();
    const output = new PassThrough();
    const stream = Duplex.from({ readable: output, writable: stdin });
    const ended = new Promise<ExecEnd>((resolve) => bridgeExec(ws as unknown as WebSocket, fakeExec(3), stream, { tty: true, demux: () => {} }, { idleMs: 10_000, maxMs: 10_000 }, resolve));
    ws.emit("message", Buffer.from("typed"), true);
    expect(stdin.read()?.toString()).toBe("typed");
    output.end("out");
    expect(await ended).toEqual({ reason: "exited", exitCode: 3, bytesIn: 5, bytesOut: 3 });
    expect(ws.sent[0]).toEqual(Buffer.from("\x01out"));
    expect(ws.sent.at(-1)).toBe('{"type":"exit","code":3}');
  });
});

describe("app page runtime", () => {
  it("says which DNS record routes a domain to berth", async () => {
    const { recordToAdd } = await import("../../server/app-runtime.js");
    expect(recordToAdd("shop.example.com", "shop.berth.dev", [])).toBe("shop.example.com. CNAME shop.berth.dev.");
    expect(recordToAdd("example.com", "shop.berth.dev", ["203.0.113.7", "2001:db8::1"])).toBe("example.com. CNAME shop.berth.dev. (or, for an apex domain: example.com. A 203.0.113.7, example.com. AAAA 2001:db8::1)");
  });

  it("counts autoheal's restarts per container from the lines it writes to deployment logs", async () => {
    const { autohealRestarts } = await import("../../releaser/container-status.js");
    const log = ["==> 10:00:00.000 autoheal: restarted shop-web-1: Docker reported its health command failing\n", "other\n==> 10:05:00.000 autoheal: restarted shop-web-1: /health answered 500\n==> 10:05:00.000 autoheal: restarted shop-worker-1: x\n"];
    expect(autohealRestarts(log)).toEqual(new Map([["shop-web-1", 2], ["shop-worker-1", 1]]));
  });
});
