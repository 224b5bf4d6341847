import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBuild } from "../../builder/build-workflow.js";
import { SecretBox } from "../../core/secret-box.js";
import { Sensitive } from "../../core/sensitive.js";
import { runRelease } from "../../releaser/release/workflow.js";
import type { App, Deployment } from "../../store/db.js";
import { openPreview } from "../../store/environment-store.js";
import { listSecretNames, putSecret } from "../../store/secret-store.js";
import { envOf } from "../support/fakes/fake-docker-host.js";
import { WorkflowWorld, dropDatabases, sha } from "../support/workflow-world.js";

const DOCKERFILE = "FROM node:20\nEXPOSE 8080\n";
const MANIFEST = ["web: { port: 8080 }", "env: { DATABASE_PASSWORD: \"${secret.DB_PASSWORD}\" }", "secrets: [DB_PASSWORD]", ""].join("\n");
const box = new SecretBox(new Sensitive("22".repeat(32)));

// Simulated time: a test that waits for real time has hung, so it fails fast.
describe("secret scopes (runBuild + runRelease; real Postgres, fake ports)", { timeout: 10_000 }, () => {
  let w: WorkflowWorld;
  let app: App;
  let n = 0;

  beforeEach(async () => {
    w = await WorkflowWorld.open();
    app = await w.app(`scoped${++n}`);
    await putSecret(w.db, box, app.id, "DB_PASSWORD", new Sensitive("production-password"));
  });
  afterEach(async () => w.stop());
  afterAll(dropDatabases);

  /** A preview of PR `pr` at `commit`, opened as GitHub described it, built and released. */
  async function preview(pr: number, commit: string, who: { fork?: boolean; bot?: boolean; manifest?: string } = {}): Promise<{ d: Deployment; outcome: string }> {
    await openPreview(w.db, { appId: app.id, name: `pr-${pr}`, prNumber: pr, headSha: commit, headRepo: who.fork ? "mallory/fork" : app.repo_full_name, fork: who.fork ?? false, authorBot: who.bot ?? false });
    w.fetcher.trees.set(commit, { Dockerfile: DOCKERFILE, "berth.yaml": who.manifest ?? MANIFEST });
    const d = await w.deployment(app, { sha: commit, environment: `pr-${pr}` });
    expect(await runBuild(w.buildDeps({ secretBox: box }), d.id)).toBe("built");
    return { d, outcome: await runRelease(w.releaseDeps({ secretBox: box }), d.id) };
  }
  const webEnv = (d: Deployment) => envOf(w.host.withLabels({ "berth.deployment": String(d.id), "berth.role": "web" })[0]!.options);

  it("gives a same-repository preview production's value, or its own preview value once set", async () => {
    const first = await preview(1, sha("a1"));
    expect(first.outcome).toBe("live");
    expect(webEnv(first.d).DATABASE_PASSWORD).toBe("production-password");

    await putSecret(w.db, box, app.id, "DB_PASSWORD", new Sensitive("preview-password"), "previews");
    const second = await preview(1, sha("a2"));
    expect(webEnv(second.d).DATABASE_PASSWORD).toBe("preview-password");
    expect(await listSecretNames(w.db, app.id)).toMatchObject([{ name: "DB_PASSWORD", scopes: ["previews", "production"] }]);
  });

  it("never gives a fork's preview a production value: it fails saying how to set a preview value", async () => {
    const { d, outcome } = await preview(2, sha("b1"), { fork: true });
    expect(outcome).toBe("failed");
    expect(w.host.withLabels({ "berth.deployment": String(d.id) })).toEqual([]);
    await w.drain();
    expect(w.github.checkRunFor(sha("b1")).output?.summary).toContain(
      `This preview runs code from a fork or a bot, which gets only secrets set for previews, never production's; berth.yaml needs secret DB_PASSWORD, which has no preview value for ${app.name}. Set one with \`berth secrets set ${app.name} DB_PASSWORD --previews\``,
    );
    const runs = JSON.stringify([...w.host.created.map((c) => c.options)]);
    expect(runs).not.toContain("production-password");

    await putSecret(w.db, box, app.id, "DB_PASSWORD", new Sensitive("preview-password"), "previews");
    const again = await preview(2, sha("b2"), { fork: true });
    expect(again.outcome).toBe("live");
    expect(webEnv(again.d).DATABASE_PASSWORD).toBe("preview-password");
  });

  it("treats a pull request a bot opened like a fork's", async () => {
    const { outcome } = await preview(3, sha("c1"), { bot: true });
    expect(outcome).toBe("failed");
    expect(JSON.stringify(w.host.created.map((c) => c.options))).not.toContain("production-password");
  });

  it("keeps production on production values whatever preview values exist", async () => {
    await putSecret(w.db, box, app.id, "DB_PASSWORD", new Sensitive("preview-password"), "previews");
    w.fetcher.trees.set(sha("d1"), { Dockerfile: DOCKERFILE, "berth.yaml": MANIFEST });
    const d = await w.deployment(app, { sha: sha("d1") });
    expect(await runBuild(w.buildDeps({ secretBox: box }), d.id)).toBe("built");
    expect(await runRelease(w.releaseDeps({ secretBox: box }), d.id)).toBe("live");
    expect(webEnv(d).DATABASE_PASSWORD).toBe("production-password");
  });

  it("never lets a fork's preview join production's services, whatever berth.yaml says", async () => {
    const shared = ["web: { port: 8080 }", "services:", "  cache: { image: redis:7 }", "previews: { services: shared }", ""].join("\n");
    w.host.addImage("redis:7");
    w.fetcher.trees.set(sha("e1"), { Dockerfile: DOCKERFILE, "berth.yaml": shared });
    const prod = await w.deployment(app, { sha: sha("e1") });
    expect(await runBuild(w.buildDeps({ secretBox: box }), prod.id)).toBe("built");
    expect(await runRelease(w.releaseDeps({ secretBox: box }), prod.id)).toBe("live");

    const { d, outcome } = await preview(4, sha("e2"), { fork: true, manifest: shared });
    expect(outcome).toBe("live");
    const web = w.host.withLabels({ "berth.deployment": String(d.id), "berth.role": "web" })[0]!;
    expect([...web.networks]).toEqual([`berth-${app.name}-pr-4`]); // not production's network
    expect(w.host.withLabels({ "berth.app": app.name, "berth.environment": "pr-4", "berth.service": "cache" })).toHaveLength(1);
  });

  it("masks every secret value in the stored log and on the check run, also when it arrives split across chunks", async () => {
    w.fetcher.trees.set(sha("f1"), { Dockerfile: DOCKERFILE, "berth.yaml": MANIFEST + 'release: ["sh", "-c", "echo $DATABASE_PASSWORD"]\n' });
    w.builder.next(async (plan, run) => {
      run.log("connecting with produc");
      run.log("tion-password\n");
      run.log(`Successfully tagged ${plan.image}\n`);
    });
    const d = await w.deployment(app, { sha: sha("f1") });
    expect(await runBuild(w.buildDeps({ secretBox: box }), d.id)).toBe("built");
    // The release command prints the secret and fails: its output reaches the log and the check run.
    w.host.onRunOnce = () => ({ exitCode: 1, output: "migrating with production-password\nfailed\n" });
    expect(await runRelease(w.releaseDeps({ secretBox: box }), d.id)).toBe("failed");
    await w.drain();
    const log = await w.logOf(d.id);
    expect(log).toContain("connecting with [redacted]");
    expect(log).toContain("migrating with [redacted]");
    const check = JSON.stringify(w.github.checkRunFor(sha("f1")));
    expect(check).toContain("[redacted]");
    expect(log + check).not.toContain("production-password");
  });
});
