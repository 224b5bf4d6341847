import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { captureAnswers } from "./support/wire-capture.js";
import { execa } from "execa";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { staticSite, TestRepo } from "../test/support/git-repo.js";
import { startBerth, type BerthProcess } from "../test/support/berth-process.js";
import { ADMIN_TOKEN, startHarness, WEBHOOK_SECRET, type Harness } from "../test/support/harness.js";
import { freePort } from "../test/support/services.js";
import { removeApp } from "../test/support/docker-cleanup.js";
import { waitFor } from "../test/support/services.js";
import { prepareDelivery, pullRequestPayload, pushPayload, type RepoFacts } from "../test/support/webhooks.js";

/**
 * A webhook burst: RATE signed deliveries a second for SECONDS (pushes to the default branch of REPOS
 * repositories and synchronize events of one pull request in each, from GitHub's recorded payloads),
 * sent on a fixed schedule whatever berth answers (an open loop, as GitHub sends). Prints the answer
 * times (p50/p99/max), berth's RSS, how long the inbox took to drain, and checks that every delivery
 * was recorded exactly once, superseded ones never started, and each repository ends on its last push.
 */
const RATE = Number(process.env.BENCH_BURST_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_BURST_SECONDS ?? 30);
const REPOS = 20;
// BENCH_BURST_ROLES=server: the intake and inbox alone, no builds competing for the CPU.
const ROLES = process.env.BENCH_BURST_ROLES ?? "server,builder,releaser";
// BENCH_BURST_SPLIT_ROLES=builder,releaser: those roles in a second berth process beside the first.
const SPLIT = process.env.BENCH_BURST_SPLIT_ROLES;
// GitHub's side of the bench stands for GitHub's machines: on this one its sender and its git server (a
// fetch per build) compete with berth for the same two cores, and the sender reads answers late. They run
// at priorities of their own so that their share does not count against berth's: the sender above it,
// the git server below. BENCH_SENDER_NICE=0 FAKE_GITHUB_GIT_NICE=0 put them level with berth.
const SENDER_NICE = process.env.BENCH_SENDER_NICE || "-10";
process.env.FAKE_GITHUB_GIT_NICE ||= "19";
let h: Harness;
let db: pg.Client;
let second: BerthProcess | undefined;
const repos: { repo: TestRepo; facts: RepoFacts; commits: string[]; pr: string }[] = [];

beforeAll(async () => {
  // BENCH_NODE_OPTIONS: V8 or Node flags for berth's process only (e.g. --cpu-prof --cpu-prof-dir=DIR).
  const nodeOptions: Record<string, string> = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {};
  h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILD_CONCURRENCY: "2", BERTH_ROLES: ROLES, ...nodeOptions }, Number(process.env.BENCH_REDIS_DB ?? 1));
  if (SPLIT) second = await startBerth({ ...h.env, LOG_LEVEL: "info", BERTH_ROLES: SPLIT }, await freePort(), { ready: /"berth started"/ });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  for (let i = 0; i < REPOS; i++) {
    const name = `${h.app}-r${i}`;
    const repo = new TestRepo(h.github.gitRoot, "octo-org", name);
    const commits = [0, 1, 2].map((c) => repo.commit(staticSite(`${name} commit ${c}\n`), `commit ${c}`));
    const pr = repo.commitToPull(1, staticSite(`${name} pull request\n`));
    const facts = { ...h.facts, name, id: 50_000 + i, cloneUrl: h.github.cloneUrl("octo-org", name) };
    repos.push({ repo, facts, commits, pr });
  }
}, 300_000);

afterAll(async () => {
  await db?.end();
  for (const r of repos) r.repo.cleanup();
  await second?.stop();
  await h?.stop();
  // The harness removes its own app; the burst's 20 repositories are 20 more apps, each with a
  // container, a network and images. Left behind, a few runs used up Docker's address pool.
  for (const r of repos) await removeApp(r.facts.name);
});

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
// utime + stime of a process, in seconds (clock ticks are 100 a second on Linux).
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssMiB = (pid: number): number => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return NaN; // berth is gone: said below, with its last output
  }
};
/** berth's own view of its answer times (from the request's headers to the answer's last byte): bucket bound → count, 2xx webhooks. */
const scrape = async (): Promise<string> => (await fetch(`${h.berth.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, connection: "close" } })).text();
const answerBuckets = (text: string, metric = "berth_webhook_answer_seconds"): Map<number, number> => {
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\d+)`, "gm"))) {
    if (m[1]!.includes("status=") && !m[1]!.includes('status="2xx"')) continue;
    const le = /le="([^"]+)"/.exec(m[1]!)?.[1] ?? "+Inf";
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  return buckets;
};
/** The bucket bound under which p % of the answers between two readings fell, and the share under 25 ms. */
const serverSide = (before: Map<number, number>, after: Map<number, number>): string => {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const n = (b: number): number => (after.get(b) ?? 0) - (before.get(b) ?? 0);
  const total = n(Infinity);
  const at = (p: number): string => `≤${((bounds.find((b) => n(b) >= (p / 100) * total) ?? Infinity) * 1000).toFixed(0)}ms`;
  return `p50 ${at(50)}, p99 ${at(99)}; ${((100 * n(0.025)) / total).toFixed(2)} % within 25ms (${total} answers)`;
};
const count = async (q: string): Promise<number> => Number((await db.query<{ n: string }>(q)).rows[0]?.n ?? 0);

it("answers a burst of deliveries after recording each once, and works off only the newest of each topic", async () => {
  const pid = h.berth.child.pid ?? 0;
  // BENCH_BERTH_NICE: berth's priority (as an operator's unit file or `nice` would set it), e.g. -5.
  if (process.env.BENCH_BERTH_NICE) for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), Number(process.env.BENCH_BERTH_NICE));
  const rssBefore = rssMiB(pid);
  const cpuBefore = cpuSeconds(pid);
  const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  let rssPeak = rssBefore;
  const before = await scrape();
  const bucketsBefore = answerBuckets(before);
  const recordBefore = answerBuckets(before, "berth_webhook_record_seconds");
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 250);
  const total = RATE * SECONDS;
  const lastPush = new Map<string, string>();
  // Every body built and signed before the clock starts, and sent from a process of its own (see
  // burst-sender.mjs): the sender's own work and lateness would count as berth's.
  const planned = Array.from({ length: total }, (_, i) => {
    const r = repos[i % REPOS]!;
    const pull = i % 10 >= 7; // 70 % pushes, 30 % pull request synchronize
    const sha = r.commits[Math.floor(i / REPOS) % r.commits.length]!;
    if (!pull) lastPush.set(r.facts.name, sha);
    return pull
      ? prepareDelivery("pull_request", pullRequestPayload(r.facts, { action: "synchronize", number: 1, head: r.pr }), WEBHOOK_SECRET)
      : prepareDelivery("push", pushPayload(r.facts, r.repo.head, sha), WEBHOOK_SECRET);
  });
  const plan = join(mkdtempSync(join(tmpdir(), "berth-burst-")), "deliveries.json");
  writeFileSync(plan, JSON.stringify({ url: h.hookUrl, rate: RATE, deliveries: planned }));
  const senderArgs = [process.execPath, fileURLToPath(new URL("./support/burst-sender.mjs", import.meta.url)), plan];
  const nice = SENDER_NICE;
  const wire = await captureAnswers(Number(new URL(h.hookUrl).port));
  const sender = await (nice ? execa("nice", ["-n", nice, ...senderArgs], { reject: false }) : execa(senderArgs[0]!, senderArgs.slice(1), { reject: false }));
  const onWire = await wire?.stop();
  rmSync(dirname(plan), { recursive: true, force: true });
  expect(sender.exitCode, sender.stderr).toBe(0);
  const result = JSON.parse(sender.stdout) as { seconds: number; answers: number[]; failures: string[]; senderLateP99: number; senderLateMax: number; senderCpuSeconds: number; retried: number };
  const { answers, failures } = result;
  const sendSeconds = result.seconds;
  const senderLate = (ms: number): string => `${ms.toFixed(1)}ms`;
  const drainStart = performance.now();
  // Answered once in berth's journal: in Postgres a moment later, then worked off.
  await waitFor("inbox drained", async () => (await count("select count(*) n from webhook_deliveries where processed_at is null")) === 0 && (await count("select count(*) n from webhook_deliveries")) >= answers.length, 300_000, 100);
  const drainMs = performance.now() - drainStart;
  // What berth's own CPU cost for the burst: less at the mercy of other load on the machine than answer times are.
  const cpuBurst = cpuSeconds(pid) - cpuBefore;
  const recorded = await count("select count(*) n from webhook_deliveries");
  const distinct = await count("select count(distinct delivery_id) n from webhook_deliveries");
  const superseded = await count("select count(*) n from webhook_deliveries where outcome like 'superseded%'");
  const deployments = await count("select count(*) n from deployments");
  const built = await count("select count(*) n from deployments where phases ? 'build_started'");
  const switched = await count("select count(*) n from deployments where phases ? 'route_switched'");
  clearInterval(sampler);
  const loopText = await scrape();
  const bucketsAfter = answerBuckets(loopText);
  const recordAfter = answerBuckets(loopText, "berth_webhook_record_seconds");
  const loopDelay = (q: string): string => `${(Number(new RegExp(`^berth_event_loop_delay_seconds\\{quantile="${q}"\\} (\\S+)`, "m").exec(loopText)?.[1]) * 1000).toFixed(1)}ms`;
  const rssAfter = rssMiB(pid);

  console.log(
    [
      "",
      `${total} deliveries at ${RATE}/s for ${SECONDS}s (sent in ${sendSeconds.toFixed(1)}s) across ${REPOS} repositories: 70 % pushes, 30 % PR synchronize; roles ${ROLES}${SPLIT ? ` + a second process with ${SPLIT}` : ""}; GitHub's sender at nice ${SENDER_NICE}, its git server at nice ${process.env.FAKE_GITHUB_GIT_NICE}${process.env.BENCH_BERTH_NICE ? `; berth at nice ${process.env.BENCH_BERTH_NICE}` : ""}`,
      `answer time: p50 ${pct(answers, 50).toFixed(1)}ms, p99 ${pct(answers, 99).toFixed(1)}ms, max ${Math.max(...answers).toFixed(1)}ms (target p99 < 25ms: ${(pct(answers, 99) / 25).toFixed(2)} of it); ${failures.length} not answered 200 (${result.retried} sent again: a kept-alive connection closed as idle as it was reused)`,
      onWire
        ? `answer time on the wire (kernel stamps of request and answer packets: without the sender's own lateness): p50 ${pct(onWire.answers, 50).toFixed(1)}ms, p99 ${pct(onWire.answers, 99).toFixed(1)}ms, max ${Math.max(...onWire.answers).toFixed(1)}ms (${(pct(onWire.answers, 99) / 25).toFixed(2)} of the target; ${onWire.answers.length} answers, ${onWire.dropped} packets dropped)`
        : "answer time on the wire: not measured (no tcpdump: apt-get install tcpdump)",
      `answer time as berth measures it (headers in to answer out; the rest is the client and the network): ${serverSide(bucketsBefore, bucketsAfter)}`,
      `  of which writing it to the journal: ${serverSide(recordBefore, recordAfter)}`,
      `  berth's event loop delay over the burst (sampled every 10 ms): p50 ${loopDelay("0.5")}, p99 ${loopDelay("0.99")}, max ${loopDelay("1")}; the sender's: p99 ${senderLate(result.senderLateP99)}, max ${senderLate(result.senderLateMax)} (it used ${result.senderCpuSeconds.toFixed(1)} s of CPU)`,
      `recorded ${recorded} rows, ${distinct} distinct deliveries; ${superseded} superseded before they started; ${deployments} deployments recorded, ${built} builds started, ${switched} releases switched (by the time the inbox drained); inbox drained ${(drainMs / 1000).toFixed(1)}s after the last answer`,
      `berth RSS: ${rssBefore.toFixed(0)} MiB before, ${rssPeak.toFixed(0)} MiB peak, ${rssAfter.toFixed(0)} MiB after`,
      `berth CPU from the first delivery until the inbox drained: ${cpuBurst.toFixed(1)} s (${((cpuBurst * 1000) / total).toFixed(2)} ms a delivery); load average ${loadBefore} before, ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} after`,
      "",
    ].join("\n"),
  );
  expect(h.berth.child.exitCode, h.berth.output().slice(-3000)).toBeNull();
  // Every repository ends on its last push, live (when this berth builds and releases).
  if (ROLES.includes("releaser") || SPLIT?.includes("releaser")) await waitFor("each repository's last push live", async () => {
    const live = await db.query<{ repo: string; sha: string }>(
      "select a.repo_full_name repo, d.sha from releases r join deployments d on d.id = r.deployment_id join apps a on a.id = r.app_id where r.state = 'live' and r.environment = 'production'",
    );
    const byRepo = new Map(live.rows.map((row) => [row.repo.split("/")[1], row.sha]));
    return repos.every((r) => byRepo.get(r.facts.name) === lastPush.get(r.facts.name));
  }, Number(process.env.BENCH_BURST_LIVE_MS ?? 400_000), 500);
  expect(failures.slice(0, 5)).toEqual([]);
  expect(recorded).toBe(total);
  expect(distinct).toBe(total);
}, 1_200_000);
