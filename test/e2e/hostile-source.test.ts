import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticSite, type FileContent } from "../support/git-repo.js";
import { ADMIN_TOKEN, WEBHOOK_SECRET, startHarness, type Harness } from "../support/harness.js";
import { getVia, waitFor } from "../support/services.js";
import { docker } from "../support/docker-cleanup.js";
import { deliver, pushPayload } from "../support/webhooks.js";

/**
 * Attacks through repository content and webhook fields, against the running server: symlinks out of
 * the checkout, and webhook values shaped as git options. Nothing may leak, nothing may run, and the
 * live release keeps serving.
 */
describe("hostile repositories and webhook fields, end to end", () => {
  let h: Harness;
  const completed = (sha: string) => waitFor(`check run on ${sha.slice(0, 7)}`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), 120_000, 200);
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const deploymentsJson = async () => JSON.stringify(await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: auth })).json());
  // Values that live only in berth's own environment: none may appear anywhere a user can read.
  const berthSecrets = [WEBHOOK_SECRET, ADMIN_TOKEN, "5e".repeat(32)];
  const expectNoLeak = async (sha: string) => {
    const check = await completed(sha);
    const texts = [JSON.stringify(check), await deploymentsJson(), await (await fetch(check.details_url ?? "")).text()];
    for (const text of texts) for (const secret of berthSecrets) expect(text).not.toContain(secret);
    return check;
  };

  // A plain static site, whatever earlier tests committed: each test starts from known files.
  const site = (body: string): Record<string, FileContent> => ({ ...staticSite(body), "berth.yaml": null, site: null, "conf/app.conf": null });

  beforeAll(async () => {
    h = await startHarness({}, 13);
    const sha = h.repo.commit(staticSite("safe\n"), "a good release first");
    await h.push(sha, "0".repeat(40));
    expect((await completed(sha)).conclusion).toBe("success");
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("fails a berth.yaml that links to berth's own environment, naming the path, and leaks nothing", async () => {
    const sha = h.repo.commit({ ...site("safe\n"), "berth.yaml": { link: "/proc/self/environ" } }, "manifest -> environ");
    await h.push(sha, h.repo.head);
    const check = await expectNoLeak(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("berth.yaml: berth.yaml leads outside the repository");
    expect(await getVia(h.ingressPort, h.host)).toEqual({ status: 200, body: "safe\n" });
  });

  it("fails services.*.files, build.context and build.dockerfile that leave the checkout", async () => {
    const cases: [Record<string, FileContent>, string][] = [
      [{ ...site("safe\n"), "berth.yaml": "services:\n  cache:\n    image: berth-standin/busybox:latest\n    files: { /etc/app.conf: conf/app.conf }\n", "conf/app.conf": { link: "../../../../../../etc/passwd" } }, "services.cache.files: conf/app.conf leads outside the repository"],
      [{ "berth.yaml": "build:\n  context: site\n", site: { link: "/" } }, "build.context: site leads outside the repository"],
      [{ "berth.yaml": null, site: null, "conf/app.conf": null, Dockerfile: { link: "/proc/self/environ" } }, "build.dockerfile: Dockerfile leads outside the repository"],
    ];
    for (const [files, reason] of cases) {
      const sha = h.repo.commit(files, reason);
      await h.push(sha, h.repo.head);
      const check = await expectNoLeak(sha);
      expect(check.conclusion, reason).toBe("failure");
      expect(check.output?.summary).toContain(reason);
    }
    expect(await getVia(h.ingressPort, h.host)).toEqual({ status: 200, body: "safe\n" });
  });

  it("fails a berth.yaml that links to a device at once, and berth stays responsive", async () => {
    const sha = h.repo.commit({ ...site("safe\n"), "berth.yaml": { link: "/dev/zero" } }, "manifest -> /dev/zero");
    await h.push(sha, h.repo.head);
    const check = await completed(sha);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("berth.yaml: berth.yaml leads outside the repository");
    expect((await fetch(`${h.berth.url}/healthz`)).status).toBe(200);
  });

  it("refuses a push whose sha is a git option: nothing recorded, nothing run", async () => {
    const marker = `/tmp/berth-pwned-${randomBytes(4).toString("hex")}`;
    const before = await deploymentsJson();
    const payload = pushPayload(h.facts, h.repo.head, "0".repeat(40));
    payload.after = `--upload-pack=touch ${marker}`;
    const res = await deliver(h.hookUrl, "push", payload, WEBHOOK_SECRET);
    expect(res.status).toBeLessThan(500);
    // A marker push after it goes through the same handler: once it is recorded, the hostile one was handled.
    const good = h.repo.commit(site("after the attack\n"), "marker");
    await h.push(good, h.repo.head);
    expect((await completed(good)).conclusion).toBe("success");
    expect(existsSync(marker)).toBe(false);
    expect(h.berth.output()).toContain("push refused: a field is not what GitHub sends");
    const after = JSON.parse(await deploymentsJson()) as { sha: string }[];
    expect(after.filter((d) => !JSON.parse(before).some((b: { sha: string }) => b.sha === d.sha)).map((d) => d.sha)).toEqual([good]);
  });

  it("fetches from the configured GitHub whatever clone_url the payload names", async () => {
    const marker = `/tmp/berth-pwned-${randomBytes(4).toString("hex")}`;
    const sha = h.repo.commit(site("fetched from the right place\n"), "clone_url attack");
    const payload = pushPayload(h.facts, h.repo.head, sha);
    payload.repository.clone_url = `--upload-pack=touch ${marker}`;
    await deliver(h.hookUrl, "push", payload, WEBHOOK_SECRET);
    expect((await completed(sha)).conclusion).toBe("success");
    expect(existsSync(marker)).toBe(false);
    await waitFor("new version served", async () => (await getVia(h.ingressPort, h.host)).body === "fetched from the right place\n");
  });

  it("builds a fork only at the commit a writer approved: close, push and reopen brings no new code", async () => {
    const preview = () => getVia(h.ingressPort, `${h.app}-pr-7.localhost`);
    const reviewed = h.repo.commitToPull(7, site("reviewed fork code\n"));
    await h.pull({ action: "opened", number: 7, head: reviewed, fork: "mallory/hello" });
    expect((await completed(reviewed)).conclusion).toBe("neutral");
    h.github.roles.set("maintainer", "write");
    await h.pull({ action: "labeled", number: 7, head: reviewed, fork: "mallory/hello", sender: "maintainer" });
    await waitFor("approved fork served", async () => (await preview()).body === "reviewed fork code\n", 120_000);

    await h.pull({ action: "closed", number: 7, head: reviewed, fork: "mallory/hello" });
    await waitFor("preview torn down", async () => (await preview()).status === 404, 60_000);
    // GitHub sends no synchronize while a pull request is closed: the fork pushes, then reopens with the label still on.
    const sneaky = h.repo.commitToPull(7, site("unreviewed fork code\n"));
    expect(h.github.labels.get(7)?.has("berth:preview")).toBe(true);
    await h.pull({ action: "reopened", number: 7, head: sneaky, fork: "mallory/hello" });
    const check = await completed(sneaky);
    expect(check.conclusion).toBe("neutral");
    expect(check.output?.summary).toContain(`after \`${reviewed.slice(0, 7)}\` was approved`);
    expect(h.github.labels.get(7)?.has("berth:preview")).toBe(false);
    expect((await preview()).body).not.toBe("unreviewed fork code\n");
  });

  it("gives an approved fork's preview no production secret, whatever its berth.yaml references", async () => {
    const api = `${h.berth.url}/api/v1/apps/${h.app}/secrets/DB_PASSWORD`;
    const headers = { ...auth, "content-type": "application/json" };
    expect((await fetch(api, { method: "PUT", headers, body: JSON.stringify({ value: "production-only-password" }) })).status).toBe(204);
    const files = { ...site("fork reading secrets\n"), "berth.yaml": 'env: { STOLEN: "${secret.DB_PASSWORD}" }\nsecrets: [DB_PASSWORD]\n' };
    const head = h.repo.commitToPull(8, files);
    await h.pull({ action: "opened", number: 8, head, fork: "mallory/hello" });
    h.github.roles.set("maintainer", "write");
    await h.pull({ action: "labeled", number: 8, head, fork: "mallory/hello", sender: "maintainer" });
    const check = await waitFor("fork preview's check run fails", () => h.github.checkRunsFor(head).find((c) => c.conclusion === "failure"), 120_000, 200);
    expect(check.output?.summary).toContain(`berth secrets set ${h.app} DB_PASSWORD --previews`);
    const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.app=${h.app}`, "berth.environment=pr-8"] }) });
    for (const c of containers) expect(JSON.stringify(await docker.getContainer(c.Id).inspect())).not.toContain("production-only-password");

    // With a value set for previews, the same commit gets that one.
    const previewsApi = `${api}?scope=previews`;
    expect((await fetch(previewsApi, { method: "PUT", headers, body: JSON.stringify({ value: "preview-password" }) })).status).toBe(204);
    const listed = (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/secrets`, { headers: auth })).json()) as { name: string; scopes: string[] }[];
    expect(listed).toMatchObject([{ name: "DB_PASSWORD", scopes: ["previews", "production"] }]);
  });

  it("refuses to build on another app's image present on the builder", async () => {
    // Another app's release image, on the same engine as every build.
    const victim = `berth/victim-${h.app}:0123456789abcdef0123456789abcdef01234567`;
    execFileSync("docker", ["tag", "berth-standin/busybox:latest", victim]);
    try {
      const sha = h.repo.commit({ ...site("x\n"), Dockerfile: `FROM ${victim}\nCMD ["cat", "/etc/hostname"]\n` }, "builds on a victim's image");
      await h.push(sha, h.repo.head);
      const check = await completed(sha);
      expect(check.conclusion).toBe("failure");
      expect(check.output?.summary).toContain(`uses ${victim}: another app's image (berth/victim-${h.app})`);
      expect(await docker.listImages({ filters: JSON.stringify({ reference: [`berth/${h.app}:${sha}-*`] }) })).toEqual([]);
    } finally {
      await docker.getImage(victim).remove().catch(() => undefined);
    }
  });

  it("masks a secret the app prints in its release command and logs, on the check run and the deployment page", async () => {
    const api = `${h.berth.url}/api/v1/apps/${h.app}/secrets/API_KEY`;
    expect((await fetch(api, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ value: "sk_live_0123456789abcdef" }) })).status).toBe(204);
    const manifest = 'env: { API_KEY: "${secret.API_KEY}" }\nsecrets: [API_KEY]\nrelease: ["sh", "-c", "echo using key $API_KEY; exit 3"]\n';
    const sha = h.repo.commit({ ...site("x\n"), "berth.yaml": manifest }, "prints its secret");
    await h.push(sha, h.repo.head);
    const check = await completed(sha);
    expect(check.conclusion).toBe("failure");
    expect(JSON.stringify(check)).toContain("using key [redacted]");
    const page = await (await fetch(check.details_url ?? "")).text();
    expect(page).toContain("using key [redacted]");
    for (const text of [JSON.stringify(check), page, await deploymentsJson(), JSON.stringify(h.github.commentsOn(0))]) expect(text).not.toContain("sk_live_0123456789abcdef");
    expect(await getVia(h.ingressPort, h.host)).toMatchObject({ status: 200 });
  });
});
