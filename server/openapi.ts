import type { AnyApiRoute, ApiRoute, ResponseDoc } from "./api-router.js";
import { ERROR } from "./api-schemas.js";
import type { JsonSchema } from "./json-schema.js";
import { sendJson } from "./respond.js";

const errorDoc = (description: string): ResponseDoc => ({ description, schema: ERROR });

/** The answers the router itself gives, so every operation lists them beside its own. */
function routerResponses(r: AnyApiRoute): Record<number, ResponseDoc> {
  const out: Record<number, ResponseDoc> = { 405: errorDoc("another method is allowed on this path (see Allow)") };
  if (Object.values(r.params ?? {}).some((p) => p.pattern !== undefined)) out[404] = errorDoc("no such route (a path parameter of the wrong form)");
  if (r.auth !== "public") Object.assign(out, { 401: errorDoc("no token, or an unknown one"), 403: errorDoc("the caller may not do this, or no admin token is set and none of a person's was sent") });
  if (r.params?.app) out[404] = errorDoc("no such app, or none the caller can read");
  if ("legacy" in r) return out;
  if (r.body) Object.assign(out, { 400: errorDoc("the body breaks the schema"), 413: errorDoc(`the body is over ${r.body.maxBytes} bytes`), 415: errorDoc("the body is not application/json") });
  else if (r.method !== "GET") out[413] = errorDoc("a body was sent (over 1 KiB) where none is taken");
  return out;
}

function responsesOf(r: AnyApiRoute): Record<string, unknown> {
  const all = { ...routerResponses(r), ...r.responses };
  return Object.fromEntries(
    Object.entries(all).map(([status, d]) => [status, { description: d.description, ...(d.schema || d.contentType ? { content: { [d.contentType ?? "application/json"]: d.schema ? { schema: d.schema } : {} } } : {}) }]),
  );
}

/** The OpenAPI 3.1 document of the API, generated from the same route table the router serves. */
export function openApiDocument(routes: AnyApiRoute[], o: { version: string; serverUrl?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const parameters = [
      ...names.map((n) => ({ name: n, in: "path", required: true, schema: r.params?.[n] ?? ({ type: "string" } as JsonSchema) })),
      ...Object.entries(r.query ?? {}).map(([n, schema]) => ({ name: n, in: "query", required: false, schema, ...(schema.description ? { description: schema.description } : {}) })),
    ];
    const body = "legacy" in r ? undefined : (r as ApiRoute).body;
    const auth = r.auth;
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: `${r.method.toLowerCase()}${r.path.replace(/^\/api\/v1/, "").replace(/\{(\w+)\}/g, "By-$1").replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(auth ? { "x-berth-access": auth } : {}),
      ...(auth === "public" ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: { required: !body.optional, content: { "application/json": { schema: body.schema, ...(body.example === undefined ? {} : { example: body.example }) } }, "x-max-bytes": body.maxBytes } } : {}),
      responses: responsesOf(r),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "berth API",
      version: o.version,
      description:
        "berth's REST API. Authenticate with `Authorization: Bearer <token>`: the admin token (BERTH_API_TOKEN) or a person's own API token (dashboard → Tokens, or `berth login`), which carries that person's GitHub permissions. Errors are JSON `{\"error\": \"…\"}`.",
    },
    ...(o.serverUrl ? { servers: [{ url: o.serverUrl }] } : {}),
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } }, schemas: { Error: ERROR } },
    security: [{ bearer: [] }],
    paths,
  };
}

/** `GET /api/v1/openapi.json`: the document of every route in the table, this one included. */
export function openApiRoute(routes: () => AnyApiRoute[], o: { version: string; serverUrl?: string }): ApiRoute {
  let doc: Record<string, unknown> | undefined;
  return {
    method: "GET",
    path: "/api/v1/openapi.json",
    auth: "public",
    summary: "This document",
    responses: { 200: { description: "the OpenAPI 3.1 document", schema: { type: "object", required: ["openapi", "paths"] } } },
    handle: async ({ res }) => sendJson(res, 200, (doc ??= openApiDocument(routes(), o))),
  };
}
