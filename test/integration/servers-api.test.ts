import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttp, type Server as HttpServer } from "node:http";
import { createServer as createHttps } from "node:https";
import { createServer as createNet } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../cli/berth.js";
import { createLogger } from "../../core/logger.js";
import { SecretBox } from "../../core/secret-box.js";
import { Sensitive } from "../../core/sensitive.js";
import { dockerOptions } from "../../releaser/docker-wire.js";
import { createHttpServer } from "../../server/http-server.js";
import { serverRoutes } from "../../server/servers-api.js";
import { ApiAuth } from "../../server/api-auth.js";
import { apiRouter } from "../../server/api-router.js";
import { createDb, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { upsertApp } from "../../store/queries.js";
import { findServer, openServerTls } from "../../store/server-store.js";
import { startDroid, type Droid, type TlsPems } from "../support/droid.js";
import { freePort, freshDatabase } from "../support/services.js";

const PROVISION = join(import.meta.dirname, "../../scripts/provision-droid.sh");
const TOKEN = "servers-api-test-token";

/** A certificate bundle from provision-droid.sh --certs-only: a CA of its own, a server and a client certificate. */
async function certs(dir: string, hostname: string): Promise<{ server: { ca: string; cert: string; key: string }; client: TlsPems }> {
  await execa("bash", [PROVISION, "--certs-only", dir, "--hostname", hostname]);
  const read = (side: string): { ca: string; cert: string; key: string } => ({
    ca: readFileSync(join(dir, side, "ca.pem"), "utf8"),
    cert: readFileSync(join(dir, side, "cert.pem"), "utf8"),
    key: readFileSync(join(dir, side, "key.pem"), "utf8"),
  });
  return { server: read("server"), client: read("client") };
}

const listen = (s: HttpServer): Promise<number> => new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as { port: number }).port)));

describe("POST, GET and DELETE /api/v1/servers against a real droid", () => {
  let droid: Droid;
  let db: Db;
  let drop: () => Promise<void>;
  let api: HttpServer;
  let base: string;
  let work: string;
  const others: HttpServer[] = [];
  const box = new SecretBox(new Sensitive("cd".repeat(32)));

  const call = async (method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "berth-servers-api-"));
    droid = await startDroid({ images: [] });
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = createDb(new Sensitive(fresh.url));
    await migrate(db);
    const local = "unix:///var/run/docker.sock";
    const routes = serverRoutes(db, box, { localDocker: local, localOptions: dockerOptions(local, {}), checkTimeoutMs: 3000 });
    const log = createLogger("silent");
    api = createHttpServer(undefined, [apiRouter(routes, { db, auth: new ApiAuth(db, new Sensitive(TOKEN), undefined), log })], log);
    base = `http://127.0.0.1:${await listen(api)}/api/v1`;
  });

  afterAll(async () => {
    for (const s of [api, ...others]) s?.close();
    await db?.destroy();
    await drop?.();
    await droid?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses calls without the admin token", async () => {
    expect(await call("GET", "/servers", undefined, "wrong")).toEqual({ status: 401, json: { error: "Send Authorization: Bearer <BERTH_API_TOKEN>." } });
  });

  it("registers the droid over TLS (201 with its engine's facts) and keeps its TLS material sealed", async () => {
    const { status, json } = await call("POST", "/servers", { name: "droid-1", docker: droid.dockerUrl, tls: droid.tls, labels: { region: "eu" } });
    expect(status).toBe(201);
    const version = await droid.engine.version();
    expect(json).toMatchObject({ name: "droid-1", docker: droid.dockerUrl, labels: { region: "eu" }, state: "reachable", error: null, apps: 0 });
    expect(json.engine).toMatchObject({ version: version.Version, apiVersion: version.ApiVersion });
    expect(json.engine.cpus).toBeGreaterThan(0);
    expect(json.engine.memoryBytes).toBeGreaterThan(0);
    const row = await findServer(db, "droid-1");
    expect(row?.tls_sealed).toMatch(/^v1:/);
    for (const pem of [droid.tls.key, droid.tls.cert, "PRIVATE KEY"]) expect(row?.tls_sealed).not.toContain(pem.split("\n")[1] ?? pem);
    expect(openServerTls(box, row!)?.key.unwrap()).toBe(droid.tls.key);
    expect((await call("POST", "/servers", { name: "droid-1", docker: droid.dockerUrl, tls: droid.tls })).status).toBe(409);
  });

  it("refuses certificates of another CA, naming the TLS failure", async () => {
    const stranger = await certs(join(work, "stranger"), droid.address);
    const { status, json } = await call("POST", "/servers", { name: "droid-x", docker: droid.dockerUrl, tls: stranger.client });
    expect(status).toBe(422);
    expect(json.error).toMatch(new RegExp(`^Server droid-x not registered: TLS with ${droid.dockerUrl.replace(/\./g, "\\.")} failed: .*(self[- ]signed|certificate)`, "i"));
    expect(await findServer(db, "droid-x")).toBeUndefined();
    // The droid's CA trusted, but a client certificate it never signed: the engine refuses it.
    const refused = await call("POST", "/servers", { name: "droid-y", docker: droid.dockerUrl, tls: { ...droid.tls, cert: stranger.client.cert, key: stranger.client.key } });
    expect(refused.status).toBe(422);
    expect(refused.json.error).toMatch(new RegExp(`^Server droid-y not registered: TLS with ${droid.dockerUrl.replace(/\./g, "\\.")} failed: .*alert (bad|unknown) certificate`, "i"));
  });

  it("refuses an address where nothing listens, and one that is not a Docker engine", async () => {
    const closed = await call("POST", "/servers", { name: "nothing", docker: `tcp://${droid.address}:2377`, tls: droid.tls });
    expect(closed.status).toBe(422);
    expect(closed.json.error).toMatch(/^Server nothing not registered: cannot reach tcp:\/\/10\.252\.\d\.2:2377: .*ECONNREFUSED/);

    // A service that accepts connections and never says a word: the check gives up at its bound.
    const silent = createNet(() => undefined);
    others.push(silent as unknown as HttpServer);
    const silentPort = await listen(silent as unknown as HttpServer);
    const started = Date.now();
    const mute = await call("POST", "/servers", { name: "mute", docker: `tcp://127.0.0.1:${silentPort}`, tls: droid.tls });
    expect(Date.now() - started).toBeLessThan(4500);
    expect(mute).toEqual({ status: 422, json: { error: `Server mute not registered: tcp://127.0.0.1:${silentPort} did not answer within 3s: check that the engine runs and that a firewall lets berth's host reach that port.` } });

    // A plain HTTP service: the TLS client reads its answer as a bogus record.
    const plain = createHttp((_, res) => res.end("hello"));
    others.push(plain);
    const plainPort = await listen(plain);
    const p = await call("POST", "/servers", { name: "plain", docker: `tcp://127.0.0.1:${plainPort}`, tls: droid.tls });
    expect(p.status).toBe(422);
    expect(p.json.error).toMatch(/^Server plain not registered: tcp:\/\/127\.0\.0\.1:\d+ does not speak TLS: no TLS-protected Docker engine listens there/);

    // An HTTPS service with a certificate the bundle trusts, answering as a web server does.
    const web = await certs(join(work, "web"), "127.0.0.1");
    const https = createHttps({ ...web.server, requestCert: true, ca: web.server.ca }, (_, res) => {
      res.statusCode = 404;
      res.end("<html>not here</html>");
    });
    others.push(https);
    const httpsPort = await listen(https);
    const h = await call("POST", "/servers", { name: "web", docker: `tcp://127.0.0.1:${httpsPort}`, tls: web.client });
    expect(h.status).toBe(422);
    expect(h.json.error).toMatch(/^Server web not registered: tcp:\/\/127\.0\.0\.1:\d+ answered HTTP 404 where a Docker engine answers its API: it is not a Docker engine/);
  });

  it("validates every field before connecting", async () => {
    const bad = async (body: unknown): Promise<string> => {
      const r = await call("POST", "/servers", body);
      expect(r.status).toBe(400);
      return r.json.error;
    };
    expect(await bad({ name: "Droid_1", docker: droid.dockerUrl, tls: droid.tls })).toBe('name: expected 1 to 32 lower case letters, digits and inner hyphens (like droid-1); got "Droid_1"');
    expect(await bad({ name: "local", docker: droid.dockerUrl, tls: droid.tls })).toBe("name: local is the built-in server (BERTH_DOCKER_HOST); choose another name");
    expect(await bad({ name: "d", docker: droid.dockerUrl })).toBe('tls: a tcp:// engine needs {"ca", "cert", "key"} (PEM strings; provision-droid.sh makes them)');
    expect(await bad({ name: "d", docker: "http://x:2376", tls: droid.tls })).toBe('docker: the scheme must be tcp, ssh or unix; got "http"');
    expect(await bad({ name: "d", docker: "ssh://root@x", tls: droid.tls })).toBe("tls: only tcp:// engines take a TLS bundle; ssh:// is secured by SSH");
    const other = await certs(join(work, "other"), droid.address);
    expect(await bad({ name: "d", docker: droid.dockerUrl, tls: { ...droid.tls, key: other.client.key } })).toBe("tls.key: it is not the key of tls.cert");
    expect(await bad({ name: "d", docker: droid.dockerUrl, tls: droid.tls, extra: 1 })).toBe("unknown field extra; expected name, docker, tls, labels");
  });

  it("adds, lists and removes a server through the CLI, reading the client bundle from --tls-dir", async () => {
    const lines: string[] = [];
    const env = { BERTH_PUBLIC_URL: base.replace(/\/api\/v1$/, ""), BERTH_API_TOKEN: TOKEN };
    const cli = (...argv: string[]): Promise<number> => run(argv, env, (l) => lines.push(l));
    expect(await cli("servers", "add", "droid-cli", "--docker", droid.dockerUrl, "--tls-dir", droid.tlsDir, "--label", "region=us")).toBe(0);
    expect(lines.pop()).toMatch(/^added server droid-cli: docker \S+, \d+ CPUs, [\d.]+ GiB$/);
    expect(await cli("servers", "list")).toBe(0);
    expect(lines.splice(0)).toEqual([
      expect.stringMatching(/^local\tunix:\/\/\/var\/run\/docker\.sock\tdocker \S+\t\d+ CPUs\t[\d.]+ GiB\t\d+ apps\t\d+ containers\treachable$/),
      expect.stringMatching(/^droid-1\t/),
      expect.stringMatching(new RegExp(`^droid-cli\\t${droid.dockerUrl.replace(/\./g, "\\.")}\\tdocker \\S+\\t\\d+ CPUs\\t[\\d.]+ GiB\\t0 apps\\t\\d+ containers\\treachable$`)),
    ]);
    expect(await cli("servers", "add", "droid-bad", "--docker", droid.dockerUrl, "--tls-dir", join(work, "missing"))).toBe(2);
    expect(lines.pop()).toMatch(/^berth: --tls-dir .*missing must hold ca\.pem, cert\.pem and key\.pem/);
    expect(await cli("servers", "remove", "local")).toBe(1);
    expect(lines.pop()).toBe("berth: local is the built-in server (BERTH_DOCKER_HOST); it cannot be removed.");
    expect(await cli("servers", "remove", "droid-cli")).toBe(0);
    expect(lines.pop()).toBe("removed server droid-cli");
  });

  it("lists the built-in local server and the droid with their state and facts, then the droid's error once it is down", async () => {
    const { status, json } = await call("GET", "/servers");
    expect(status).toBe(200);
    expect(json.map((s: { name: string }) => s.name)).toEqual(["local", "droid-1"]);
    const [local, remote] = json;
    expect(local).toMatchObject({ docker: "unix:///var/run/docker.sock", state: "reachable", error: null });
    expect(remote).toMatchObject({ docker: droid.dockerUrl, labels: { region: "eu" }, state: "reachable", error: null, apps: 0 });
    expect(remote.engine.version).toBe((await droid.engine.version()).Version);
    expect(typeof remote.containers).toBe("number");

    // Its engine dies while the host stays up. (A stopped droid's address would be routed to this
    // machine's gateway, which answers TLS for any address: no real network does that.)
    await droid.stopEngine();
    const started = Date.now();
    const after = (await call("GET", "/servers")).json[1];
    expect(Date.now() - started).toBeLessThan(4500); // within the 3 s check bound
    expect(after).toMatchObject({ name: "droid-1", state: "unreachable" });
    expect(after.error).toMatch(/^cannot reach tcp:\/\/10\.252\.\d\.2:2376: .*ECONNREFUSED/);
    expect(after.engine.version).toBe(remote.engine.version); // the last facts stay
    expect(await findServer(db, "droid-1")).toMatchObject({ state: "unreachable", last_error: after.error });
  });

  it("counts the apps running on each server, and refuses to remove a server that runs any", async () => {
    const app = await upsertApp(db, { name: "placed", repoFullName: "o/placed", repoId: "9", installationId: "1", defaultBranch: "main" });
    const release = async (server: string, state: "live" | "stopped", environment = "production"): Promise<void> => {
      const d = await db.insertInto("deployments").values({ app_id: app.id, environment, sha: "a".repeat(40), ref: "refs/heads/main", clone_url: "x" }).returning("id").executeTakeFirstOrThrow();
      await db.insertInto("releases").values({ deployment_id: d.id, app_id: app.id, environment, server, image: "i", hostname: "h", container_name: `c-${server}`, state }).execute();
    };
    await release("droid-1", "live");
    await release("default", "live", "pr-1"); // the built-in server's releases carry its pre-fleet name
    await release("droid-1", "stopped");
    const listed = (await call("GET", "/servers")).json as { name: string; apps: number }[];
    expect(listed.map((s) => [s.name, s.apps])).toEqual([["local", 1], ["droid-1", 1]]);
    expect(await call("DELETE", "/servers/droid-1")).toEqual({ status: 409, json: { error: "Server droid-1 still has 1 app running and 0 environments placed on it; move them (POST /api/v1/apps/{app}/move) or remove them first." } });
    await db.updateTable("releases").set({ state: "stopped" }).where("app_id", "=", app.id).execute();
  });

  it("removes a server, never local, and says which names it does not know", async () => {
    expect(await call("DELETE", "/servers/local")).toEqual({ status: 409, json: { error: "local is the built-in server (BERTH_DOCKER_HOST); it cannot be removed." } });
    expect(await call("DELETE", "/servers/nope")).toEqual({ status: 404, json: { error: "No server named nope; GET /api/v1/servers lists them." } });
    expect((await call("DELETE", "/servers/droid-1")).status).toBe(204);
    expect((await call("GET", "/servers")).json.map((s: { name: string }) => s.name)).toEqual(["local"]);
  });
});
