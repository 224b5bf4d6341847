import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { planDockerBuild } from "../../builder/docker-build-plan.js";
import { BuildkitBuilder } from "../../builder/buildkit-builder.js";
import { BuildkitSession } from "../../builder/buildkit-session.js";
import { UserError } from "../../core/errors.js";
import { Sensitive } from "../../core/sensitive.js";
import { docker, removeApp } from "../support/docker-cleanup.js";
import { uniqueName, waitFor } from "../support/services.js";

describe("BuildKit builder with a client session", () => {
  const app = uniqueName("bk-");
  const builder = new BuildkitBuilder();
  const dirs: string[] = [];
  let deploymentId = 0;

  /** A context directory with these files and a plan building it as berth/<app>:<random sha>. */
  const planFor = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "berth-bk-"));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const sha = randomBytes(20).toString("hex");
    return planDockerBuild({ app, environment: "production", sha, deploymentId: ++deploymentId, contextDir: dir, entries: readdirSync(dir), dockerfile: "Dockerfile", buildArgs: {} });
  };

  afterAll(async () => {
    await removeApp(app);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("lets a RUN step read a secret that ends up in no layer, history, config or log", async () => {
    const secret = `npm_${randomBytes(16).toString("hex")}`;
    const secretSha = createHash("sha256").update(secret).digest("hex");
    // The cache key of a secret mount ignores the value, so a unique step keeps earlier runs from answering.
    const plan = planFor({
      Dockerfile: [
        "FROM berth-standin/busybox:latest",
        // Engine 20.10 health-checks the session every second and drops it on the first failure.
        `RUN sleep 3 && echo ${nonce()}`,
        `RUN --mount=type=secret,id=NPM_TOKEN echo run ${nonce()} && sha256sum /run/secrets/NPM_TOKEN | cut -d' ' -f1 > /seen.sha && cat /run/secrets/NPM_TOKEN && echo`,
        "",
      ].join("\n"),
    });
    let log = "";
    const id = await builder.build(plan, (t) => (log += t), undefined, { NPM_TOKEN: new Sensitive(secret) });

    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const image = await docker.getImage(plan.image).inspect();
    expect(image.Id).toBe(id);
    expect(image.Config.Labels).toMatchObject({ "berth.app": app });
    expect(log).toMatch(/^#\d+ \[3\/3\] RUN --mount=type=secret,id=NPM_TOKEN echo run /m);
    // The step printed the value; the builder masks it before it reaches the log.
    expect(log).toMatch(/^#\d+ \[redacted\]$/m);
    expect(log).not.toContain(secret);

    const saved = Buffer.from((await execa("docker", ["save", plan.image], { encoding: "buffer" })).stdout);
    // The step's file is in a layer, which shows the search below looks inside layer contents.
    expect(saved.includes(Buffer.from(secretSha))).toBe(true);
    expect(saved.includes(Buffer.from(secret))).toBe(false);
    const history = (await execa("docker", ["history", "--no-trunc", plan.image])).stdout;
    expect(history).toContain("RUN /bin/sh -c echo run");
    expect(history).not.toContain(secret);
    expect((await execa("docker", ["image", "inspect", plan.image])).stdout).not.toContain(secret);
  });

  it("masks every line of a multi-line secret a step prints", async () => {
    const lines = [`key-${randomBytes(8).toString("hex")}`, `key-${randomBytes(8).toString("hex")}`];
    const pem = `-----BEGIN TEST KEY-----\n${lines.join("\n")}\n-----END TEST KEY-----\n`;
    const plan = planFor({ Dockerfile: `FROM berth-standin/busybox:latest\nRUN --mount=type=secret,id=KEY echo ${nonce()} && cat /run/secrets/KEY\n` });
    let log = "";
    await builder.build(plan, (t) => (log += t), undefined, { KEY: new Sensitive(pem) });
    for (const line of lines) expect(log).not.toContain(line);
    expect(log.match(/^#\d+ \[redacted\]$/gm)?.length).toBeGreaterThanOrEqual(2);
  });

  it("names a secret the Dockerfile mounts but the build does not have", async () => {
    const advice = `; the Dockerfile mounts the build secret "MISSING_ONE", which is not defined for this app: add it to the app's build secrets or remove --mount=type=secret,id=MISSING_ONE`;
    // BuildKit runs the step without the file when the mount is optional (the default) and stops it when required.
    for (const required of [false, true]) {
      const step = `echo ${nonce()} && cat /run/secrets/MISSING_ONE`;
      const plan = planFor({ Dockerfile: `FROM berth-standin/busybox:latest\nRUN --mount=type=secret,id=MISSING_ONE${required ? ",required=true" : ""} ${step}\n` });
      let log = "";
      const err = await builder.build(plan, (t) => (log += t), undefined, { OTHER: new Sensitive("other-value") }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      const cause = required ? "secret MISSING_ONE not found: not found" : `executor failed running [/bin/sh -c ${step}]: exit code: 1`;
      expect((err as UserError).message).toBe(`docker build failed: ${cause}${advice}`);
      expect(log).toContain("note: the Dockerfile mounts the build secret MISSING_ONE, which is not defined for this app\n");
    }
  });

  it("reports a failing step as the user's error with the log tail", async () => {
    const plan = planFor({ Dockerfile: `FROM berth-standin/busybox:latest\nRUN echo compiling ${nonce()} && echo 'error: missing semicolon' && false\n` });
    const err = await builder.build(plan, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^docker build failed: executor failed running \[\/bin\/sh -c echo compiling \w+ && echo 'error: missing semicolon' && false\]: exit code: 1$/);
    expect((err as UserError).detail).toMatch(/^#\d+ error: missing semicolon$/m);
    expect((err as UserError).detail).toMatch(/^#\d+ ERROR: executor failed running/m);
  });

  it("sends the context through .dockerignore and never sends .git", async () => {
    const plan = planFor({
      Dockerfile: `FROM berth-standin/busybox:latest\nCOPY . /ctx\nRUN test -e /ctx/keep.txt && test ! -e /ctx/secret.env && test ! -e /ctx/.git && echo ${nonce()}\n`,
      ".dockerignore": "secret.env\n",
      "keep.txt": "keep",
      "secret.env": "TOKEN=1",
      ".git": "gitdir: elsewhere",
    });
    await expect(builder.build(plan, () => undefined)).resolves.toMatch(/^sha256:/);
  });

  it("stops the build when the signal aborts", async () => {
    const marker = `berth-cancel-${randomBytes(4).toString("hex")}`;
    const plan = planFor({ Dockerfile: `FROM berth-standin/busybox:latest\nRUN sleep 30 && echo ${marker}\n` });
    const controller = new AbortController();
    let log = "";
    const started = Date.now();
    const result = builder.build(plan, (t) => (log += t), controller.signal).catch((e: unknown) => e);
    await waitFor("the step to start", () => processesWith(marker).length > 0, 30_000);
    controller.abort(new Error("superseded"));
    const err = await result;
    expect((err as Error).message).toBe("superseded");
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(log).toContain(`RUN sleep 30 && echo ${marker}`);
    // The engine kills the step's container once the request is gone; nothing is left running or tagged.
    await waitFor("the step's processes to end", () => processesWith(marker).length === 0, 15_000);
    await expect(docker.getImage(plan.image).inspect()).rejects.toThrow(/no such image/i);
  });
});

describe("BuildKit session protocol, against a stand-in engine that dials back like dockerd", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-bk-engine-"));
  const socketPath = join(dir, "engine.sock");
  const engine = http.createServer();
  let upgrade: http.IncomingMessage | undefined;
  let client: http2.ClientHttp2Session | undefined;
  engine.on("upgrade", (req: http.IncomingMessage, socket: Socket) => {
    upgrade = req;
    // dockerd answers 101 and immediately speaks HTTP/2 as the client, as the stand-in does here.
    socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    client = http2.connect("http://localhost", { createConnection: () => socket });
  });
  const call = (path: string, message: Buffer) =>
    new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = client!.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
      const out = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
      req.on("response", (h) => (out.headers = h));
      req.on("trailers", (t) => (out.trailers = t));
      req.on("data", (c: Buffer) => (out.body = Buffer.concat([out.body, c])));
      req.on("end", () => resolve(out));
      req.on("error", reject);
      req.end(Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]));
    });
  const missing: string[] = [];
  let session: BuildkitSession;

  afterAll(async () => {
    await session?.close();
    client?.destroy();
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("announces itself with docker's session headers and serves health, secrets and nothing else", async () => {
    await new Promise<void>((r) => engine.listen(socketPath, r));
    session = await BuildkitSession.open({ socketPath, name: "berth/app:sha", secrets: { tok: new Sensitive("s3cret value") }, onMissingSecret: (id) => missing.push(id) });
    expect(upgrade?.url).toBe("/session");
    expect(upgrade?.headers).toMatchObject({ connection: "Upgrade", upgrade: "h2c", "x-docker-expose-session-uuid": session.id, "x-docker-expose-session-name": "berth/app:sha" });
    expect(upgrade?.headersDistinct["x-docker-expose-session-grpc-method"]).toEqual(["/moby.buildkit.secrets.v1.Secrets/GetSecret", "/grpc.health.v1.Health/Check"]);

    const health = await call("/grpc.health.v1.Health/Check", Buffer.alloc(0));
    expect(health.headers["content-type"]).toBe("application/grpc");
    expect(health.body).toEqual(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
    expect(health.trailers["grpc-status"]).toBe("0");

    // GetSecretRequest{ID: "tok", annotations: {"k": "v"}}
    const found = await call("/moby.buildkit.secrets.v1.Secrets/GetSecret", Buffer.from("0a03746f6b12060a016b120176", "hex"));
    expect(found.body).toEqual(Buffer.concat([Buffer.from([0, 0, 0, 0, 14, 0x0a, 12]), Buffer.from("s3cret value")]));
    expect(found.trailers["grpc-status"]).toBe("0");

    const absent = await call("/moby.buildkit.secrets.v1.Secrets/GetSecret", Buffer.from("0a046e6f7065", "hex"));
    expect([absent.headers["grpc-status"], absent.headers["grpc-message"]]).toEqual(["5", "secret nope is not defined for this build"]);
    expect(missing).toEqual(["nope"]);

    const auth = await call("/moby.filesync.v1.Auth/Credentials", Buffer.from("0a09646f636b65722e696f", "hex"));
    expect([auth.headers["grpc-status"], auth.headers["grpc-message"]]).toEqual(["12", "berth does not serve /moby.filesync.v1.Auth/Credentials"]);
  });
});

/** A fresh token for a Dockerfile step, so no earlier run's cache answers for it. */
function nonce(): string {
  return randomBytes(6).toString("hex");
}

/** Host pids whose command line contains text (BuildKit's build containers share the host pid namespace view). */
function processesWith(text: string): string[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    });
}
