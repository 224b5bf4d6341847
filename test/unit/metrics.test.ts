import { describe, expect, it } from "vitest";
import { Metrics, type MetricsSnapshot } from "../../core/metrics.js";

const snapshot: MetricsSnapshot = {
  deployments: [
    { state: "live", kind: "production", count: 2 },
    { state: "failed", kind: "preview", count: 1 },
  ],
  environments: [{ state: "open", count: 3 }],
  queues: [{ queue: "build", state: "waiting", count: 4 }],
  inboxPending: 5,
  oldestQueuedSeconds: 1.5,
};

describe("Metrics", () => {
  it("renders store gauges from one snapshot per scrape, and this process's counters and histograms", async () => {
    let reads = 0;
    const m = new Metrics(async () => {
      reads++;
      return snapshot;
    });
    m.webhookAnswered("push", 200, 0.004);
    m.webhookAnswered("x".repeat(300), 400, 0.001); // an event berth does not know: one bounded label
    m.wentLive("pr-3", { received: 1000, queued: 1010, fetch_started: 1100, first_served: 2500 });
    m.reconcilerPass({ closed: [], healed: ["a", "b"], strays: ["s"] });
    m.reconcilerPass("failed");
    const text = await m.render();
    expect(reads).toBe(1);
    expect(text).toContain('berth_deployments{state="live",kind="production"} 2');
    expect(text).toContain('berth_queue_jobs{queue="build",state="waiting"} 4');
    expect(text).toContain("berth_webhook_inbox_pending 5");
    expect(text).toContain("berth_build_queue_oldest_seconds 1.5");
    expect(text).toContain('berth_webhook_answer_seconds_count{event="push",status="2xx"} 1');
    expect(text).toContain('berth_webhook_answer_seconds_count{event="other",status="4xx"} 1');
    expect(text).toContain('berth_deployment_phase_seconds_sum{phase="push_to_live",kind="preview"} 1.5');
    expect(text).toContain('berth_deployment_phase_seconds_sum{phase="queue_wait",kind="preview"} 0.09');
    expect(text).not.toContain('phase="build"'); // a phase not reached is not observed
    expect(text).toContain('berth_reconciler_passes_total{result="ok"} 1');
    expect(text).toContain('berth_reconciler_passes_total{result="failed"} 1');
    expect(text).toContain('berth_reconciler_repairs_total{kind="healed"} 2');
    expect(text).toContain("berth_autoheal_restarts_total 2");
    await m.render();
    expect(reads).toBe(2);
  });
});
