import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";
import { PHASES } from "../../store/phases.js";

type Step = { phase: string; at: string; sincePreviousMs: number; sinceStartMs: number };
type Row = { id: number; sha: string; phases: Step[] };

describe("deployment phases, end to end", () => {
  let h: Harness;
  const api = async (path: string) => fetch(`${h.berth.url}/api/v1/apps/${h.app}${path}`, { headers: { authorization: "Bearer e2e-admin-token" } });

  beforeAll(async () => {
    h = await startHarness({}, 5);
  });
  afterAll(async () => {
    await h?.stop();
  });

  const deploy = async (body: string): Promise<string> => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite(body), body.trim());
    expect((await h.push(sha, before)).status).toBe(200);
    const check = await waitFor(`check run on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 200);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    return sha;
  };

  it("times a redeploy through every phase, first served seen through the real proxy, in the API, on the page and in the summary", async () => {
    await deploy("phase one\n");
    const sha = await deploy("phase two\n");
    expect((await getVia(h.ingressPort, h.host)).body).toBe("phase two\n");

    const list = (await (await api("/deployments")).json()) as Row[];
    const row = list.find((d) => d.sha === sha)!;
    // Drained comes after the success report: wait for it rather than race it.
    const one = await waitFor("drained", async () => {
      const r = (await (await api(`/deployments/${row.id}`)).json()) as Row;
      return r.phases.some((p) => p.phase === "drained") ? r : undefined;
    }, 30_000, 100);
    expect(one.phases.map((p) => p.phase)).toEqual([...PHASES]);
    const times = one.phases.map((p) => Date.parse(p.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(one.phases.at(-1)?.sinceStartMs).toBe(times.at(-1)! - times[0]!);
    expect((await api(`/deployments/${row.id + 100000}`)).status).toBe(404);

    const summary = h.github.checkRunsFor(sha).find((c) => c.status === "completed")?.output?.summary ?? "";
    expect(summary).toMatch(/built in \d+(\.\d)?s, released in \d+(\.\d)?s/);

    const check = h.github.checkRunsFor(sha).find((c) => c.status === "completed");
    const html = await (await fetch(check?.details_url ?? "")).text();
    expect(html).toContain("<td>first served through the proxy</td>");
  });
});
