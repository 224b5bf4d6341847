import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { Sensitive } from "../../core/sensitive.js";
import type { Db } from "../../store/db.js";
import { ApiAuth } from "../../server/api-auth.js";
import { apiRoute } from "../../server/api-table.js";
import { createHttpServer } from "../../server/http-server.js";
import { schemaError } from "../../server/json-schema.js";
import { openApiDocument } from "../../server/openapi.js";
import { sendJson } from "../../server/respond.js";

const TOKEN = "unit-admin-token";

/** The real table with no database: only what the router answers before a handler runs is asked here. */
function table() {
  const db = {} as Db;
  const log = createLogger("silent");
  return apiRoute({
    db,
    auth: new ApiAuth(db, new Sensitive(TOKEN), undefined),
    log,
    box: undefined,
    actions: {},
    webhooks: undefined,
    sleep: undefined,
    previewSleepAfterMs: null,
    urlFor: (app, env) => `http://${app}-${env}.localhost`,
    servers: { localDocker: "unix:///nowhere.sock", localOptions: { socketPath: "/nowhere.sock" } },
    users: undefined,
    version: "test",
    extra: [{ method: "GET", path: "/api/v1/legacy/{thing}", summary: "a legacy Route mounted in the table", responses: { 200: { description: "ok" } }, legacy: async (_req, res) => (sendJson(res, 200, { legacy: true }), true) }],
  });
}

describe("the /api/v1 router", () => {
  let server: Server;
  let base: string;
  const call = (method: string, path: string, init: { body?: string; type?: string; token?: string | null } = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }), ...(init.type ? { "content-type": init.type } : {}) },
      body: init.body,
    });

  beforeAll(async () => {
    server = createHttpServer(undefined, [table().route], createLogger("silent"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it("answers 404 for an unknown path and 405 with Allow for a known path and another method", async () => {
    const unknown = await call("GET", "/api/v1/nothing/here");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: "No API route GET /api/v1/nothing/here." });
    const wrong = await call("PUT", "/api/v1/apps/shop");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, PATCH");
    expect(await wrong.json()).toEqual({ error: "PUT is not allowed on /api/v1/apps/shop; use GET or PATCH." });
    expect((await call("POST", "/api/v1/servers/droid1")).headers.get("allow")).toBe("DELETE");
    // A path parameter of the wrong form is no route, as the regexes had it.
    expect((await call("GET", "/api/v1/apps/Not_An_App")).status).toBe(404);
    for (const hostile of ["/api/v1/apps/%E0%A4%A", "/api/v1/apps/%", `/api/v1/apps/${"a".repeat(5000)}`, "/api/v1//apps", "/api/v1/apps/a%2Fb/deployments"]) {
      expect((await call("GET", hostile)).status, hostile).toBe(404);
    }
  });

  it("authenticates before it reads a body: 403 without a configured token is the gate's, 401 for a wrong one", async () => {
    const r = await call("POST", "/api/v1/servers", { token: "wrong", body: "{}", type: "application/json" });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="berth"');
    expect(await r.json()).toEqual({ error: "Send Authorization: Bearer <BERTH_API_TOKEN>." });
  });

  it("answers 415 for a body that is not JSON, 413 over the route's bound, 400 naming what breaks the schema", async () => {
    const text = await call("POST", "/api/v1/servers", { body: "name=x", type: "application/x-www-form-urlencoded" });
    expect(text.status).toBe(415);
    expect((await text.json()).error).toMatch(/^Send the body as JSON with Content-Type: application\/json/);
    expect((await call("POST", "/api/v1/servers", { body: "{}" })).status).toBe(415); // no type at all
    const big = await call("POST", "/api/v1/servers", { body: JSON.stringify({ name: "x".repeat(200_000) }), type: "application/json" });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: "The body is larger than 131072 bytes, the most POST /api/v1/servers takes." });
    const bad = await call("POST", "/api/v1/servers", { body: JSON.stringify({ name: "droid1" }), type: "application/json; charset=utf-8" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "body.docker: required." });
    const labels = await call("POST", "/api/v1/servers", { body: JSON.stringify({ name: "d", docker: "ssh://x", labels: { a: 1 } }), type: "application/vnd.berth+json" });
    expect(await labels.json()).toEqual({ error: "body.labels.a: expected string, got integer." });
    expect((await call("POST", "/api/v1/servers", { body: "{oops", type: "application/json" })).status).toBe(400);
    // A route that takes no body ignores a small one and refuses a large one unread.
    const none = await call("DELETE", "/api/v1/servers/droid1", { body: "x".repeat(2048), type: "application/json" });
    expect([none.status, await none.json()]).toEqual([413, { error: "DELETE /api/v1/servers/{name} takes no body." }]);
  });

  it("validates the bodies of public routes too, before anything else", async () => {
    const r = await call("POST", "/api/v1/login/device/token", { token: null, body: JSON.stringify({ deviceCode: "x", extra: 1 }), type: "application/json" });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: "body.extra: unknown key." });
  });

  it("answers HEAD as GET without a body", async () => {
    const head = await call("HEAD", "/api/v1/openapi.json", { token: null });
    expect([head.status, await head.text()]).toEqual([200, ""]);
  });

  it("mounts a legacy Route function at a documented path", async () => {
    expect(await (await call("GET", "/api/v1/legacy/x")).json()).toEqual({ legacy: true });
  });

  it("documents every registered route, with its path parameters, body schema and responses", async () => {
    const { routes } = table();
    const doc = (await (await call("GET", "/api/v1/openapi.json", { token: null })).json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    expect(new Set(documented).size).toBe(routes.length); // no path and method registered twice
    for (const r of routes) {
      const op = doc.paths[r.path]![r.method.toLowerCase()];
      const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters?.filter((p: { in: string }) => p.in === "path").map((p: { name: string }) => p.name) ?? [], r.path).toEqual(names);
      expect(Object.keys(op.responses).some((s) => s.startsWith("2")), `${r.method} ${r.path} declares a 2xx`).toBe(true);
      expect(op.responses["405"]).toBeDefined();
      if ("body" in r && r.body) expect(op.requestBody.content["application/json"].schema).toEqual(r.body.schema);
    }
    expect(openApiDocument(routes, { version: "test" })).toEqual(doc);
  });
});

describe("schemaError", () => {
  it("names the path of the first violation", () => {
    const s = { type: "object", properties: { a: { type: "array", items: { type: "string", pattern: "^[a-z]+$" }, maxItems: 2 }, n: { type: ["integer", "null"], minimum: 1 } }, required: ["a"], additionalProperties: false } as const;
    expect(schemaError(s, { a: ["ok"] })).toBeUndefined();
    expect(schemaError(s, { a: ["ok"], n: null })).toBeUndefined();
    expect(schemaError(s, {})).toBe("body.a: required");
    expect(schemaError(s, { a: ["ok", "No"] })).toBe("body.a[1]: expected a string matching ^[a-z]+$");
    expect(schemaError(s, { a: ["a", "b", "c"] })).toBe("body.a: expected at most 2 items");
    expect(schemaError(s, { a: [], n: 0 })).toBe("body.n: expected at least 1");
    expect(schemaError(s, { a: [], n: 1.5 })).toBe("body.n: expected integer or null, got number");
    expect(schemaError(s, { a: [], z: 1 })).toBe("body.z: unknown key");
    // Keys that name Object.prototype's own are unknown keys too, and a required key must be the body's own.
    expect(schemaError(s, JSON.parse('{"a": [], "constructor": 1}'))).toBe("body.constructor: unknown key");
    expect(schemaError(s, JSON.parse('{"a": [], "__proto__": {"x": 1}}'))).toBe("body.__proto__: unknown key");
    expect(schemaError({ ...s, required: ["toString"] }, { a: [] })).toBe("body.toString: required");
    expect(schemaError(s, [])).toBe("body: expected object, got array");
    expect(schemaError({ enum: ["x", "y"] }, "z")).toBe('body: expected one of "x", "y"');
    expect(schemaError({ anyOf: [{ type: "string" }, { type: "integer" }] }, true)).toBe("body: expected string, got boolean");
  });
});
