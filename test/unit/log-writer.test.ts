import { describe, expect, it } from "vitest";
import { LOG_LIMIT_CHARS, LogWriter } from "../../store/log-writer.js";

function sink(): { chunks: string[]; append: (chunk: string) => Promise<void> } {
  const chunks: string[] = [];
  return { chunks, append: async (chunk) => void chunks.push(chunk) };
}

describe("LogWriter", () => {
  it("writes in chunks while the log runs", async () => {
    const s = sink();
    const log = new LogWriter(s.append, { chunkChars: 4, flushMs: 60_000 });
    log.write("ab");
    log.write("cd");
    log.write("e");
    await log.flush();
    expect(s.chunks).toEqual(["abcd", "e"]);
  });

  it("keeps the head as it comes and the tail at flush, saying what was cut", async () => {
    const s = sink();
    const log = new LogWriter(s.append, { limitChars: 100, tailChars: 30, chunkChars: 1000, flushMs: 60_000 });
    log.write("a".repeat(50));
    log.write("b".repeat(100));
    log.write("c".repeat(10));
    await log.flush();
    expect(s.chunks.join("")).toBe(
      "a".repeat(50) +
        "b".repeat(20) +
        "\n==> this log passed 70 characters; berth keeps only its last 30 characters from here, written when the step ends\n" +
        "\n==> 60 characters of this log were cut here (a log keeps 100 characters)\n" +
        "b".repeat(20) +
        "c".repeat(10),
    );
    // The tail's room is spent: later text is only counted.
    log.note("done");
    await log.flush();
    expect(s.chunks.at(-1)).toBe("\n==> 22 characters of this log were cut here (a log keeps 100 characters)\n");
    expect(log.tail().endsWith(" done\n")).toBe(true);
  });

  it("caps a log of 20 million characters at 5 MiB without copying the tail on every line", async () => {
    const s = sink();
    const log = new LogWriter(s.append, { flushMs: 60_000 });
    const line = "x".repeat(99) + "\n";
    const started = performance.now();
    for (let i = 0; i < 200_000; i++) log.write(line);
    await log.flush();
    const elapsed = performance.now() - started;
    const text = s.chunks.join("");
    expect(text.length).toBeLessThan(LOG_LIMIT_CHARS + 300);
    expect(text).toContain("\n==> 14757120 characters of this log were cut here (a log keeps 5 MiB)\n");
    expect(text.endsWith(line.repeat(3))).toBe(true);
    expect(elapsed).toBeLessThan(5000);
  });
});
