import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { schemaError, type JsonSchema } from "../../server/json-schema.js";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/harness.js";

interface Operation {
  operationId: string;
  parameters?: { name: string; in: "path" | "query"; schema: JsonSchema }[];
  requestBody?: { required: boolean; content: { "application/json": { schema: JsonSchema; example?: unknown } }; "x-max-bytes": number };
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
  security?: unknown[];
  "x-berth-access"?: string;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

/**
 * Contract tests generated from GET /api/v1/openapi.json against a running berth: every operation is
 * called (with the document's own request example), must answer a status it declares, and a JSON
 * answer must match the schema declared for that status. Then what the router promises for every
 * operation: 401 without a token, 405 with Allow for another method, 415 and 413 for bodies.
 */
describe("the API against its own OpenAPI document", () => {
  let h: Harness;
  let doc: Doc;
  let deploymentId: number;
  const ops = (): { path: string; method: string; op: Operation }[] => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
  const fill = (path: string): string =>
    path.replace(/\{(\w+)\}/g, (_, n: string) => {
      if (n === "name") return path.includes("/domains/") ? "shop.example.com" : path.includes("/servers/") ? "nothing" : "CONTRACT_NAME";
      return ({ app: h.app, id: String(deploymentId), env: "production" } as Record<string, string>)[n] ?? "x";
    });

  const check = async (path: string, method: string, op: Operation, res: Response): Promise<void> => {
    const where = `${method.toUpperCase()} ${path} → ${res.status}`;
    const declared = op.responses[String(res.status)];
    const text = await res.text();
    expect(declared, `${where} is not declared: ${text.slice(0, 300)}`).toBeDefined();
    const type = res.headers.get("content-type") ?? "";
    if (type.startsWith("application/json")) {
      const schema = declared!.content?.["application/json"]?.schema;
      expect(schema, `${where} answered JSON where none is declared`).toBeDefined();
      expect(schemaError(schema!, JSON.parse(text), "response"), `${where}: ${text.slice(0, 300)}`).toBeUndefined();
    } else if (text !== "") {
      expect(Object.keys(declared!.content ?? {}).some((t) => type.startsWith(t)), `${where} answered ${type}`).toBe(true);
    }
  };

  beforeAll(async () => {
    h = await startHarness({}, 3);
    // The app as the installation event records it, and one finished deployment: no build needed for the contract.
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    const app = await client.query<{ id: number }>("insert into apps (name, repo_full_name, repo_id, installation_id, default_branch) values ($1, $2, '4242', '77', 'main') returning id", [h.app, `octo-org/${h.app}`]);
    const d = await client.query<{ id: number }>("insert into deployments (app_id, environment, sha, ref, clone_url, state, finished_at) values ($1, 'production', $2, 'refs/heads/main', 'https://github.com/x/y.git', 'failed', now()) returning id", [app.rows[0]!.id, "a".repeat(40)]);
    deploymentId = d.rows[0]!.id;
    await client.end();
    doc = (await (await fetch(`${h.berth.url}/api/v1/openapi.json`)).json()) as Doc;
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it("answers every operation with a declared status and a body of the declared schema", async () => {
    expect(ops().length).toBeGreaterThan(20);
    for (const { path, method, op } of ops()) {
      const example = op.requestBody?.content["application/json"].example;
      const res = await fetch(`${h.berth.url}${fill(path)}`, {
        method: method.toUpperCase(),
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(example !== undefined ? { "content-type": "application/json" } : {}) },
        body: example !== undefined ? JSON.stringify(example) : undefined,
      });
      await check(path, method, op, res);
    }
  }, 120_000);

  it("keeps the router's promises on every operation: 401, 405 with Allow, 415, 413", async () => {
    const all = ["get", "post", "put", "patch", "delete"];
    for (const { path, method, op } of ops()) {
      const url = `${h.berth.url}${fill(path)}`;
      if (!op.security || op.security.length > 0) {
        const res = await fetch(url, { method: method.toUpperCase() });
        expect(res.status, `${method} ${path} without a token`).toBe(401);
        await check(path, method, op, res);
      }
      const other = all.find((m) => !(m in doc.paths[path]!))!;
      const wrong = await fetch(url, { method: other.toUpperCase(), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(wrong.status, `${other} ${path}`).toBe(405);
      expect(wrong.headers.get("allow")?.split(", ").sort()).toEqual(Object.keys(doc.paths[path]!).map((m) => m.toUpperCase()).sort());
      // A person's own routes refuse the admin token before reading a body (the tokens test covers them).
      if (!op.requestBody || op["x-berth-access"] === "user") continue;
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const text = await fetch(url, { method: method.toUpperCase(), headers: { ...headers, "content-type": "text/plain" }, body: "hello" });
      expect(text.status, `${method} ${path} with text/plain`).toBe(415);
      await check(path, method, op, text);
      const big = await fetch(url, { method: method.toUpperCase(), headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ pad: "x".repeat(op.requestBody["x-max-bytes"]) }) });
      expect(big.status, `${method} ${path} over its bound`).toBe(413);
      await check(path, method, op, big);
    }
  }, 120_000);
});
