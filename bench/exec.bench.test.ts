import { afterAll, beforeAll, expect, it } from "vitest";
import { WebSocket } from "ws";
import { staticSite } from "../test/support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../test/support/harness.js";
import { getVia, waitFor } from "../test/support/services.js";
import { launchChromium, noBrowser, signIn } from "../test/support/browser.js";

/**
 * Exec round trip: a keystroke sent over berth's exec WebSocket to its echo coming back, through
 * berth, Docker's hijacked exec connection and the container's TTY (N rounds, one byte each, a
 * fresh byte only after the last echo); the same for a piped `cat` without a TTY; the time to open a
 * session; and keystroke to echo on screen in chromium's xterm.js. Prints median and p95.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const BROWSER_ROUNDS = Number(process.env.BENCH_BROWSER_ROUNDS ?? 40);
let h: Harness;

beforeAll(async () => {
  h = await startHarness({}, 5);
  await h.push(h.repo.commit(staticSite("bench exec\n"), "v1"), "0".repeat(40));
  await waitFor("served", async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === "bench exec\n", 120_000, 50);
});
afterAll(async () => {
  await h?.stop();
});

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(2)} ms, p95 ${q(0.95).toFixed(2)} ms, min ${s[0]!.toFixed(2)} ms (n=${s.length})`;
};

function open(q: string): Promise<{ ws: WebSocket; ms: number }> {
  const t = performance.now();
  const ws = new WebSocket(`${h.berth.url.replace(/^http/, "ws")}/api/v1/apps/${h.app}/exec?${q}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, ms: performance.now() - t }));
    ws.once("error", reject);
  });
}

/** Sends one byte at a time and times each until output holding it comes back. */
async function roundTrips(ws: WebSocket, rounds: number, payload: (i: number) => string): Promise<number[]> {
  const times: number[] = [];
  let seen = "";
  let wake: (() => void) | undefined;
  ws.on("message", (d: Buffer, binary: boolean) => {
    if (!binary) return;
    seen += d.subarray(1).toString();
    wake?.();
  });
  for (let i = 0; i < rounds; i++) {
    const p = payload(i);
    seen = "";
    const t = performance.now();
    const got = new Promise<void>((resolve) => (wake = () => seen.includes(p.trim()) && resolve()));
    ws.send(Buffer.from(p), { binary: true });
    await got;
    times.push(performance.now() - t);
  }
  return times;
}

it("measures exec round trips", async () => {
  const opens: number[] = [];
  for (let i = 0; i < 20; i++) {
    const { ws, ms } = await open("tty=false&cmd=true");
    opens.push(ms);
    await new Promise((r) => ws.once("close", r));
  }
  console.log(`exec session open (upgrade answered, docker exec created and started): ${stats(opens)}`);

  const tty = await open("tty=true&cmd=cat");
  await new Promise((r) => setTimeout(r, 300));
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const echo = await roundTrips(tty.ws, ROUNDS, (i) => letters[i % 26]!);
  console.log(`exec keystroke → echo, TTY (berth WebSocket ↔ docker exec ↔ pty): ${stats(echo)}`);
  tty.ws.close();

  const piped = await open("tty=false&cmd=cat");
  const lines = await roundTrips(piped.ws, ROUNDS, (i) => `line-${i}\n`);
  console.log(`exec line → cat → back, no TTY: ${stats(lines)}`);
  piped.ws.close();
  expect(echo.length).toBe(ROUNDS);
});

it.skipIf(noBrowser)("measures keystroke to echo on screen in the dashboard's xterm.js", async () => {
  h.github.people.addUser("alice", { [`octo-org/${h.app}`]: "write" });
  const browser = await launchChromium();
  try {
    const { page } = await signIn(browser, h.github, h.berth.url, "alice");
    await page.goto(`/apps/${h.app}/terminal?environment=production`);
    await page.locator('#terminal[data-state="open"]').waitFor();
    await page.locator(".xterm-rows", { hasText: "#" }).waitFor();
    const times: number[] = [];
    for (let i = 0; i < BROWSER_ROUNDS; i++) {
      const mark = `k${i}z`;
      // Typed in the page, timed in the page: from the key events to xterm.js having drawn the echo.
      const ms = await page.evaluate(async (m) => {
        const term = (window as unknown as { berthTerminal: { buffer: { active: { cursorY: number; baseY: number; getLine(y: number): { translateToString(): string } | undefined } }; onRender(cb: () => void): { dispose(): void }; input(d: string): void } }).berthTerminal;
        const line = () => term.buffer.active.getLine(term.buffer.active.baseY + term.buffer.active.cursorY)?.translateToString() ?? "";
        const t = performance.now();
        return await new Promise<number>((resolve) => {
          const sub = term.onRender(() => {
            if (line().includes(m)) {
              sub.dispose();
              resolve(performance.now() - t);
            }
          });
          term.input(m);
        });
      }, mark);
      times.push(ms);
      await page.keyboard.press("Control+U"); // clear the shell's line for the next round
    }
    console.log(`exec keystroke → echo drawn by xterm.js in chromium: ${stats(times)}`);
  } finally {
    await browser.close();
  }
});
