import { afterEach, it } from "vitest";
import { staticSite } from "../test/support/git-repo.js";
import { startHarness, type Harness } from "../test/support/harness.js";
import { getVia, waitFor } from "../test/support/services.js";
import { platformMemory } from "./platform-memory.js";

/**
 * The platform's idle footprint (PSS, MB): berth with its builder on a thread of its own (the default)
 * and without (BERTH_BUILDER_THREAD=off), each after one deploy so every module is loaded.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

for (const thread of ["on", "off"]) {
  it(`idle memory with BERTH_BUILDER_THREAD=${thread}`, async () => {
    h = await startHarness({ LOG_LEVEL: "warn", BERTH_BUILDER_THREAD: thread }, Number(process.env.BENCH_REDIS_DB ?? 10));
    const harness = h;
    const before = harness.repo.head;
    await harness.push(harness.repo.commit(staticSite("idle\n"), "idle"), before);
    await waitFor("live", async () => (await getVia(harness.ingressPort, harness.host).catch(() => undefined))?.body === "idle\n", 120_000, 50);
    await new Promise((r) => setTimeout(r, 10_000));
    const m = await platformMemory(h);
    console.log(`BERTH_BUILDER_THREAD=${thread}: berth ${m.berth} MB, Postgres ${m.postgres}, Redis ${m.redis}, proxy ${m.proxy}, total ${m.total} MB (goal 160)`);
  }, 300_000);
}
