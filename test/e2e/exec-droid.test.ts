import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { droidForSuite, startDroid } from "../support/droid.js";
import { staticSite } from "../support/git-repo.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";
import { completedCheck } from "../support/harness-queries.js";
import { execOnce, execUrl } from "../support/exec-client.js";

const SERVER = "droid-exec";

// The exec WebSocket reaches a container on a remote droid (a second dockerd in its own network
// namespace, TLS only) through the same engine lookup as runtime logs: berth's side of the
// connection is the droid's Docker API, never the container's address.
describe("exec into a container on a droid", () => {
  const droid = droidForSuite(() => startDroid());
  let h: Harness;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    h = await startHarness({}, 6);
    const res = await fetch(`${h.berth.url}/api/v1/servers`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name: SERVER, docker: droid().dockerUrl, tls: droid().tls }) });
    expect(res.status, await res.clone().text()).toBe(201);
    const sha = h.repo.commit({ ...staticSite("on the droid\n"), "berth.yaml": `placement: { server: ${SERVER} }\n` }, "v1");
    await h.push(sha, "0".repeat(40));
    expect((await completedCheck(h, sha, 180_000)).conclusion).toBe("success");
  }, 240_000);
  afterAll(async () => {
    await h?.stop();
  });

  it("runs a command in the app's container on the droid, found by berth's labels there", async () => {
    const [onDroid] = await droid().engine.listContainers({ filters: JSON.stringify({ label: [`berth.app=${h.app}`] }) });
    expect(onDroid).toBeDefined();
    const r = await execOnce(execUrl(h.berth.url, h.app, { tty: "false", cmd: ["sh", "-c", "hostname; cat /www/index.html"] }), admin);
    expect([r.stdout, r.code]).toEqual([`${onDroid!.Id.slice(0, 12)}\non the droid\n`, 0]);
  });
});
