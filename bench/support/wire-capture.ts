import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface WireAnswers {
  /** Per request, ms from its first packet to berth's first packet of the answer, as the kernel stamped them. */
  answers: number[];
  /** What tcpdump said it dropped (a capture with drops is incomplete). */
  dropped: string;
}

/**
 * Answer times as the network sees them: tcpdump on loopback stamps each packet in the kernel, so the
 * figure leaves out how late the sending process read its answers (on this 2-core machine, busy with
 * berth's builds, the bench's sender is scheduled late too; GitHub sends from machines of its own).
 * Undefined when tcpdump is not installed (`apt-get install tcpdump`).
 */
export async function captureAnswers(port: number): Promise<{ stop: () => Promise<WireAnswers> } | undefined> {
  if (spawnSync("tcpdump", ["--version"]).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "berth-wire-"));
  const file = join(dir, "burst.pcap");
  // Headers only (96 bytes): lengths and ports are all this needs.
  const child: ChildProcess = spawn("tcpdump", ["-i", "lo", "-n", "-s", "96", "-B", "32768", "-w", file, `tcp port ${port}`], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    const poll = setInterval(() => {
      if (!/listening on/.test(err)) return;
      clearInterval(poll);
      clearTimeout(t);
      resolve();
    }, 20);
  });
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
      try {
        return { answers: answerTimes(readFileSync(file), port), dropped: /(\d+) packets dropped by kernel/.exec(err)?.[1] ?? "?" };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Pairs, per connection, each request's first data packet with the first data packet berth sent after it. */
export function answerTimes(pcap: Buffer, port: number): number[] {
  const little = pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number): number => (little ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  const linkType = u32(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : 0; // Ethernet on lo; Linux "cooked" on any
  const open = new Map<number, number>(); // client port → when its request's first packet was seen (µs)
  const answers: number[] = [];
  for (let o = 24; o + 16 <= pcap.length; ) {
    const at = u32(o) * 1e6 + u32(o + 4);
    const captured = u32(o + 8);
    const ip = o + 16 + linkHeader;
    o += 16 + captured;
    if ((pcap[ip] ?? 0) >> 4 !== 4) continue;
    const ipHeader = ((pcap[ip] ?? 0) & 0x0f) * 4;
    const total = pcap.readUInt16BE(ip + 2);
    const tcp = ip + ipHeader;
    const [src, dst] = [pcap.readUInt16BE(tcp), pcap.readUInt16BE(tcp + 2)];
    const data = total - ipHeader - ((pcap[tcp + 12] ?? 0) >> 4) * 4;
    if (data <= 0) continue;
    if (dst === port && !open.has(src)) open.set(src, at);
    else if (src === port && open.has(dst)) {
      answers.push((at - (open.get(dst) as number)) / 1000);
      open.delete(dst);
    }
  }
  return answers;
}
