import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite, TestRepo } from "../support/git-repo.js";
import { startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";
import { checkRunPayload, installationRepositoriesPayload, pushPayload } from "../support/webhooks.js";

/**
 * berth driven from GitHub itself, end to end: the buttons on its check runs (Re-run builds the commit
 * again, Roll back on what production runs puts the previous release back, both refused to a sender
 * without write access), and the installation's repositories becoming apps before their first push.
 * Payloads are GitHub's recorded deliveries.
 */
describe("GitHub-native: check run buttons and installation events", () => {
  let h: Harness;
  const completedRuns = (sha: string) => h.github.checkRunsFor(sha).filter((c) => c.status === "completed");
  const served = (body: string) => waitFor(`${body.trim()} served`, async () => (await getVia(h.ingressPort, h.host).catch(() => undefined))?.body === body, 120_000, 50);
  const deploy = async (body: string) => {
    const before = h.repo.head;
    const sha = h.repo.commit(staticSite(body), body.trim());
    await h.push(sha, before);
    const check = await waitFor(`check run on ${sha.slice(0, 7)}`, () => completedRuns(sha)[0], 120_000, 100);
    expect(check.conclusion).toBe("success");
    await served(body);
    return { sha, check };
  };
  const press = (action: "rerequested" | "requested_action", check: { id: number; head_sha: string }, sender: string, identifier?: string) =>
    h.github.sendHook("check_run", checkRunPayload(h.facts, { action, checkRunId: check.id, sha: check.head_sha, sender, identifier }));

  beforeAll(async () => {
    h = await startHarness();
    h.github.roles.set("maintainer", "write");
    h.github.roles.set("visitor", "read");
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it("offers Redeploy and Roll back on production's check run, and rolls back only for a writer", async () => {
    const first = await deploy("first release\n");
    const second = await deploy("second release\n");
    const actions = second.check.history.map((u) => (u as { actions?: { identifier: string }[] }).actions).find(Boolean);
    expect(actions?.map((a) => a.identifier)).toEqual(["redeploy", "rollback"]);

    expect((await press("requested_action", second.check, "visitor", "rollback")).status).toBe(200);
    await waitFor("refusal logged", () => h.berth.output().includes("check run action refused: the sender cannot write to the repository"), 10_000);
    expect((await getVia(h.ingressPort, h.host)).body).toBe("second release\n");

    expect((await press("requested_action", second.check, "maintainer", "rollback")).status).toBe(200);
    await served("first release\n");
    const rollbackRun = await waitFor("rollback check run", () => completedRuns(first.sha).find((c) => c.id !== first.check.id), 60_000);
    expect(rollbackRun.conclusion).toBe("success");
    // The roll back button is for what production runs: second's check run no longer is.
    await press("requested_action", second.check, "maintainer", "rollback");
    await waitFor("refusal logged", () => h.berth.output().includes("roll back refused: this check run's deployment is not what production runs"), 10_000);
  });

  it("builds and releases a commit again when its check run is re-run, as a new check run", async () => {
    const { sha, check } = await deploy("re-run me\n");
    await deploy("newer than re-run me\n");
    expect((await press("rerequested", check, "maintainer")).status).toBe(200);
    const rerun = await waitFor("a new check run on the re-run commit", () => completedRuns(sha).find((c) => c.id !== check.id), 120_000, 100);
    expect(rerun.conclusion).toBe("success");
    await served("re-run me\n");
    // A check run that is not berth's, or an action berth never offered, changes nothing.
    expect((await press("rerequested", { id: 987654321, head_sha: sha }, "maintainer")).status).toBe(200);
    expect((await press("requested_action", rerun, "maintainer", "lgtm")).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(completedRuns(sha)).toHaveLength(2);
  });

  it("makes an app of a repository once it is installed, so secrets can be set before any push, and archives it when removed", async () => {
    const name = `${h.app}-installed`;
    const full_name = `octo-org/${name}`;
    const repository = { id: 4343, full_name };
    h.github.repositories.set(full_name, { id: repository.id, defaultBranch: "main" });
    const api = `${h.berth.url}/api/v1/apps`;
    const auth = { authorization: "Bearer e2e-admin-token", "content-type": "application/json" };
    const listed = async () => ((await (await fetch(api, { headers: auth })).json()) as { name: string; repository: string; archivedAt: string | null }[]).find((a) => a.repository === full_name);

    expect((await h.github.sendHook("installation_repositories", installationRepositoriesPayload(h.facts.installationId, { added: [repository] }))).status).toBe(200);
    const app = await waitFor("installed repository listed as an app", listed, 10_000);
    expect(app.archivedAt).toBeNull();
    expect((await fetch(`${api}/${app.name}/secrets/API_KEY`, { method: "PUT", headers: auth, body: JSON.stringify({ value: "set before the first push" }) })).status).toBe(204);

    await h.github.sendHook("installation_repositories", installationRepositoriesPayload(h.facts.installationId, { removed: [repository] }));
    await waitFor("archived", async () => (await listed())?.archivedAt, 10_000);

    // A push brings it back as it was, its secret included.
    const repo = new TestRepo(h.github.gitRoot, "octo-org", name);
    try {
      const sha = repo.commit(staticSite("installed first, pushed later\n"), "first push");
      const facts = { ...h.facts, name, id: repository.id, cloneUrl: h.github.cloneUrl("octo-org", name) };
      await h.github.sendHook("push", pushPayload(facts, "0".repeat(40), sha));
      await waitFor("unarchived by the push", async () => (await listed())?.archivedAt === null, 10_000);
      await waitFor("installed app live", async () => (await getVia(h.ingressPort, `${app.name}.localhost`).catch(() => undefined))?.body === "installed first, pushed later\n", 120_000, 100);
      const secrets = (await (await fetch(`${api}/${app.name}/secrets`, { headers: auth })).json()) as { name: string }[];
      expect(secrets.map((x) => x.name)).toContain("API_KEY");
    } finally {
      repo.cleanup();
    }
  });

  it("makes no app of an installed repository whose name is not GitHub's, or that the API does not confirm", async () => {
    const apps = async () => ((await (await fetch(`${h.berth.url}/api/v1/apps`, { headers: { authorization: "Bearer e2e-admin-token" } })).json()) as { repository: string }[]).map((a) => a.repository);
    const before = await apps();
    h.github.repositories.set("octo-org/claimed", { id: 5151, defaultBranch: "main" });
    const hostile = [
      { id: 5150, full_name: "--upload-pack=touch /tmp/x/y" },
      { id: 5152, full_name: "octo-org/../../etc" },
      { id: 9999, full_name: "octo-org/claimed" }, // GitHub says this repository has another id
    ];
    expect((await h.github.sendHook("installation_repositories", installationRepositoriesPayload(h.facts.installationId, { added: hostile }))).status).toBe(200);
    // A marker delivery after it: once it is worked off, the hostile one was too (the inbox keeps arrival order).
    const marker = { id: 5153, full_name: "octo-org/marker" };
    h.github.repositories.set(marker.full_name, { id: marker.id, defaultBranch: "main" });
    await h.github.sendHook("installation_repositories", installationRepositoriesPayload(h.facts.installationId, { added: [marker] }));
    await waitFor("marker app", async () => (await apps()).includes(marker.full_name), 10_000);
    expect((await apps()).filter((r) => !before.includes(r))).toEqual([marker.full_name]);
  });

  it("exposes what happened as Prometheus metrics behind the admin token", async () => {
    const url = `${h.berth.url}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    const res = await fetch(url, { headers: { authorization: "Bearer e2e-admin-token" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/^berth_deployments\{state="live",kind="production"\} [1-9]/m);
    expect(text).toMatch(/^berth_webhook_answer_seconds_count\{event="push",status="2xx"\} [1-9]/m);
    expect(text).toMatch(/^berth_deployment_phase_seconds_count\{phase="push_to_live",kind="production"\} [1-9]/m);
    expect(text).toMatch(/^berth_queue_jobs\{queue="build",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^berth_webhook_inbox_pending 0$/m);
    expect(text).not.toMatch(new RegExp(h.app)); // no app names, shas or ids in labels
  });
});
