import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../support/docker-cleanup.js";
import { staticSite } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";

describe("preview expiry", () => {
  let h: Harness;

  beforeAll(async () => {
    // A preview with no push for 6s expires; the reconciler looks every second.
    h = await startHarness({ BERTH_PREVIEW_TTL: "6s", BERTH_RECONCILE_INTERVAL: "1" }, 8);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("tears down a preview with no push for the TTL and says so on the PR", async () => {
    h.repo.commit(staticSite("base\n"), "base");
    const sha = h.repo.commitToPull(5, staticSite("short-lived\n"));
    await h.pull({ action: "opened", number: 5, head: sha });
    await waitFor("preview live", async () => (await getVia(h.ingressPort, `${h.app}-pr-5.localhost`).catch(() => undefined))?.body === "short-lived\n", 60_000);
    const filters = JSON.stringify({ label: [`berth.app=${h.app}`, "berth.environment=pr-5"] });
    await waitFor(
      "expired preview removed",
      async () => (await docker.listContainers({ all: true, filters })).length + (await docker.listNetworks({ filters })).length === 0,
      30_000,
      200,
    );
    const comment = await waitFor("expiry comment", () => h.github.commentsOn(5).find((c) => c.body.includes("expired and removed")));
    expect(comment.body).toContain("had no push for 6s and was removed. Push a commit to bring it back.");
    await waitFor("deployment inactive", () => h.github.deploymentsFor(sha)[0]?.statuses.at(-1)?.state === "inactive");
  });
});
