import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { waitFor } from "../support/services.js";
import { openStream, sampleLatency, statesIn, summarize, type OpenStream } from "../support/sse-client.js";

const ZERO = "0".repeat(40);

/** The i-th of many clients, 8 to an address as berth's per-client cap allows: 127.0.<block>.10, .11, … */
const client = (block: number, i: number): string => `127.0.${block}.${10 + Math.floor(i / 8)}`;

// Redis db 7: 8–15 are taken by other suites (and 15 by hostile-requests' second berth).
describe("live-log streams under load, end to end", () => {
  let h: Harness;
  const finished: { url: string; state: string }[] = [];

  const states = async (): Promise<{ sha: string; state: string }[]> =>
    (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { sha: string; state: string }[];
  const stateOf = async (sha: string): Promise<string | undefined> => (await states()).find((d) => d.sha === sha)?.state;
  const completed = (sha: string) => waitFor(`check run on ${sha.slice(0, 7)} to complete`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 200);
  /** The check run's page link with `/events`: the stream the page opens. */
  const eventsUrl = async (sha: string): Promise<string> =>
    (await waitFor("check run link", () => h.github.checkRunsFor(sha)[0]?.details_url, 60_000, 50)).replace("?", "/events?");
  /**
   * Pushes a commit whose build runs `seconds` of RUN, printing a tick a second, and waits until it
   * builds. The app's name in the step keeps Docker's layer cache of an earlier run from skipping it.
   */
  const slowBuild = async (seconds: number, body: string): Promise<{ sha: string; url: string }> => {
    const before = h.repo.head;
    const site = staticSite(body);
    const sha = h.repo.commit({ ...site, Dockerfile: site.Dockerfile!.replace("\nCOPY", `\nRUN echo ${h.app} && for i in $(seq 1 ${seconds}); do echo tick $i; sleep 1; done\nCOPY`) }, `slow ${body}`);
    expect((await h.push(sha, before)).status).toBe(200);
    const url = await eventsUrl(sha);
    await waitFor(`${sha.slice(0, 7)} building`, async () => (await stateOf(sha)) === "building", 60_000, 200).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify(await states())}\n${h.berth.output().slice(-6000)}`);
    });
    return { sha, url };
  };

  beforeAll(async () => {
    h = await startHarness({}, 7);
    // Three finished deployments: replaced, live and failed.
    const v1 = h.repo.commit(staticSite("one\n"), "v1");
    await h.push(v1, ZERO);
    expect((await completed(v1)).conclusion).toBe("success");
    const v2 = h.repo.commit(staticSite("two\n"), "v2");
    await h.push(v2, v1);
    expect((await completed(v2)).conclusion).toBe("success");
    const bad = h.repo.commit({ Dockerfile: "FROM berth-standin/busybox:latest\nRUN echo failing on purpose && exit 3\n" }, "broken");
    await h.push(bad, v2);
    expect((await completed(bad)).conclusion).toBe("failure");
    await waitFor("v1 replaced", async () => (await stateOf(v1)) === "replaced", 30_000, 200);
    for (const [sha, state] of [[v1, "replaced"], [v2, "live"], [bad, "failed"]] as const) finished.push({ url: await eventsUrl(sha), state });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("ends 200 concurrent streams of replaced, live and failed deployments at once while /healthz stays fast", async () => {
    const idle = sampleLatency(`${h.berth.url}/healthz`);
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = await idle.stop();
    const health = sampleLatency(`${h.berth.url}/healthz`);
    const started = Date.now();
    const streams = Array.from({ length: 200 }, (_, i) => openStream(finished[i % 3]!.url, client(1, i)));
    const ends = await Promise.all(streams.map((s) => s.done));
    const loaded = await health.stop();
    const lasted = summarize(ends.map((e) => e.at - started));
    console.log(`/healthz idle: ${summarize(baseline.ms).text}`);
    console.log(`/healthz while 200 streams of finished deployments open and end: ${summarize(loaded.ms).text}`);
    console.log(`those 200 streams ended after ${lasted.text.replace("samples", "streams")}`);
    ends.forEach((e, i) => {
      expect(e, e.error).toMatchObject({ status: 200, complete: true });
      expect(statesIn(e.body)).toEqual([finished[i % 3]!.state]);
    });
    expect(ends.filter((e) => /failing on purpose/.test(e.body))).toHaveLength(66);
    expect(lasted.max).toBeLessThan(5000);
    expect(loaded.failures).toEqual([]);
    expect(summarize(loaded.ms).max).toBeLessThan(1000);
  });

  it("admits 200 viewers of a running build, answers the 9th of one address and the 201st with 429, and still takes webhooks", async () => {
    const slow = await slowBuild(90, "slow\n");
    const page = async () => (await fetch(slow.url.replace("/events?", "?"))).text();
    expect(await page()).toContain("new EventSource(");
    const open: OpenStream[] = Array.from({ length: 8 }, () => openStream(slow.url, "127.0.2.1"));
    expect(await Promise.all(open.map((s) => s.headers))).toEqual(Array(8).fill(200));
    const ninth = await openStream(slow.url, "127.0.2.1").done;
    expect(ninth.status).toBe(429);
    expect(JSON.parse(ninth.body)).toEqual({ error: "Your address has 8 live log streams open, the limit; close some of them and retry." });

    open.push(...Array.from({ length: 192 }, (_, i) => openStream(slow.url, client(3, i))));
    expect(await Promise.all(open.map((s) => s.headers))).toEqual(Array(200).fill(200));
    const over = await openStream(slow.url, "127.0.4.1").done;
    expect(over.status).toBe(429);
    expect(JSON.parse(over.body).error).toMatch(/^berth is serving its limit of 200 live log streams; retry in a minute, or read the log at \/deployments\/\d+\/log\.$/);
    await waitFor("the build's output in every stream", () => open.every((s) => /\ndata: tick [0-9]+\n/.test(s.text())), 60_000, 200);
    // Its page still shows the log, without a stream whose refusal would reload the page every second.
    const full = await page();
    expect(full).toContain("\ntick 1\n");
    expect(full).not.toContain("new EventSource(");

    const health = sampleLatency(`${h.berth.url}/healthz`);
    await new Promise((r) => setTimeout(r, 2000));
    const loaded = await health.stop();
    console.log(`/healthz with 200 streams of one running build open: ${summarize(loaded.ms).text}`);
    expect(loaded.failures).toEqual([]);

    // A push is answered and acted on: it supersedes the slow build, whose 200 streams then end.
    const next = h.repo.commit(staticSite("after the slow one\n"), "supersede");
    const delivery = await h.push(next, slow.sha);
    console.log(`push webhook with 200 streams open: answered ${delivery.status} in ${Math.round(delivery.ms)} ms`);
    expect(delivery.status).toBe(200);
    const pushedAt = Date.now();
    const ends = await Promise.all(open.map((s) => s.done));
    const lasted = summarize(ends.map((e) => e.at - pushedAt));
    console.log(`the slow build's 200 streams ended ${lasted.text.replace("samples", "streams")} after the push`);
    for (const e of ends) {
      expect(e).toMatchObject({ status: 200, complete: true });
      expect(statesIn(e.body)).toEqual(["building", "cancelled"]);
    }
    expect(lasted.max).toBeLessThan(5000);
    expect((await completed(next)).conclusion).toBe("success");
  });

  it("ends open streams as soon as berth is told to stop, and berth exits by itself", async () => {
    const slow = await slowBuild(8, "stopping\n");
    const open = Array.from({ length: 20 }, (_, i) => openStream(slow.url, client(5, i)));
    expect(await Promise.all(open.map((s) => s.headers))).toEqual(Array(20).fill(200));
    const exited = new Promise<number | null>((r) => h.berth.child.once("exit", (code) => r(code)));
    const t0 = Date.now();
    process.kill(h.berth.child.pid!, "SIGTERM"); // the harness runs node itself: the signal reaches berth
    const ends = await Promise.all(open.map((s) => s.done));
    const lasted = summarize(ends.map((e) => e.at - t0));
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running after 20 s"), 20_000))]);
    console.log(`on SIGTERM 20 open streams ended ${lasted.text.replace("samples", "streams")} later; berth exited ${code} after ${Date.now() - t0} ms (it finishes its build first)`);
    for (const e of ends) expect(e).toMatchObject({ status: 200, complete: true });
    expect(lasted.max).toBeLessThan(2000);
    expect(code).toBe(0);
    expect(h.berth.output()).not.toContain("unclean shutdown");
  });
});
