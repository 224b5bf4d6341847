import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBerth, type BerthProcess } from "../support/berth-process.js";
import { docker } from "../support/docker-cleanup.js";
import { droidForSuite, startDroid } from "../support/droid.js";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { completedCheck } from "../support/harness-queries.js";
import { freePort, getVia } from "../support/services.js";

const BUILDER = "builder-1";

// The builder role on another host with its own engine (here: the droid's, over TLS), against the same
// Postgres and Redis; the berth that releases runs only the server and releaser roles and moves the
// image from the builder's engine to the server the app lives on.
describe("a builder on another host", () => {
  const droid = droidForSuite(() => startDroid());
  let h: Harness;
  let builder: BerthProcess | undefined;

  beforeAll(async () => {
    h = await startHarness({ BERTH_ROLES: "server,releaser", BERTH_RECONCILE_INTERVAL: "2" }, 15);
    const res = await fetch(`${h.berth.url}/api/v1/servers`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: BUILDER, docker: droid().dockerUrl, tls: droid().tls }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    builder = await startBerth(
      { ...h.env, BERTH_ROLES: "builder", BERTH_DOCKER_HOST: droid().dockerUrl, DOCKER_CERT_PATH: droid().tlsDir, DOCKER_TLS_VERIFY: "1", BERTH_BUILDER_SERVER: BUILDER },
      await freePort(),
      { ready: /"berth started"/ },
    );
  });
  afterAll(async () => {
    await builder?.stop();
    await h?.stop();
  });

  it("builds on its own engine, and the release moves the image to the server the app lives on", async () => {
    const before = h.repo.head;
    const sha = h.repo.commit({ ...staticSite("built elsewhere\n"), "berth.yaml": "placement:\n  server: local\n" }, "built elsewhere");
    expect((await h.push(sha, before)).status).toBe(200);
    const check = await completedCheck(h, sha);
    expect(check.conclusion, JSON.stringify(check.output)).toBe("success");
    expect((await getVia(h.ingressPort, h.host)).body).toBe("built elsewhere\n");
    const built = (await droid().engine.listImages({ filters: JSON.stringify({ label: [`berth.app=${h.app}`] }) })).flatMap((i) => i.RepoTags ?? []);
    expect(built.some((t) => t.includes(sha))).toBe(true);
    const here = (await docker.listImages({ filters: JSON.stringify({ label: [`berth.app=${h.app}`] }) })).flatMap((i) => i.RepoTags ?? []);
    expect(here).toEqual(built.filter((t) => t.includes(sha)));
    const log = await (await fetch(`${check.details_url}`)).text();
    expect(log).toContain(`image moved from server ${BUILDER} to local`);
  });
});
