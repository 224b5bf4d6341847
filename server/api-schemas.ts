import type { JsonSchema } from "./json-schema.js";
import type { ResponseDoc } from "./api-router.js";

/** Shapes shared by the API's routes: each is both the document's schema and what tests check answers against. */
export const str: JsonSchema = { type: "string" };
export const strOrNull: JsonSchema = { type: ["string", "null"] };
export const int: JsonSchema = { type: "integer" };
export const intOrNull: JsonSchema = { type: ["integer", "null"] };
export const time: JsonSchema = { type: "string", format: "date-time" };
export const timeOrNull: JsonSchema = { type: ["string", "null"], format: "date-time" };

export const obj = (properties: Record<string, JsonSchema>, required = Object.keys(properties)): JsonSchema => ({ type: "object", properties, required });
export const list = (items: JsonSchema): JsonSchema => ({ type: "array", items });

export const APP_PARAM: JsonSchema = { type: "string", pattern: "^[a-z0-9-]{1,63}$", description: "the app's name (GET /api/v1/apps)" };
export const ENVIRONMENT: JsonSchema = { type: "string", pattern: "^(production|pr-[0-9]{1,9})$", description: "production or pr-<N>" };
export const ID_PARAM: JsonSchema = { type: "string", pattern: "^[0-9]{1,9}$" };

export const ERROR: JsonSchema = obj({ error: str });

export const APP: JsonSchema = obj({ name: str, repository: str, defaultBranch: str, buildConcurrency: intOrNull, archivedAt: timeOrNull, createdAt: time });

export const DEPLOYMENT: JsonSchema = obj({
  id: int,
  environment: str,
  sha: str,
  state: str,
  url: strOrNull,
  image: strOrNull,
  error: strOrNull,
  rollbackOf: intOrNull,
  createdAt: time,
  startedAt: timeOrNull,
  builtAt: timeOrNull,
  finishedAt: timeOrNull,
  phases: list(obj({ phase: str, at: time, sincePreviousMs: { type: ["number", "null"] }, sinceStartMs: { type: ["number", "null"] } }, ["phase", "at"])),
});

export const DEPLOYMENT_BRIEF: JsonSchema = obj({ id: int, environment: str, sha: str, state: str });

export const ENVIRONMENT_STATE: JsonSchema = obj(
  {
    name: str,
    state: { type: "string", enum: ["live", "sleeping"] },
    hostname: str,
    server: str,
    deployment: int,
    sha: str,
    sleepAfterSeconds: { type: ["number", "null"] },
    sleepingSince: timeOrNull,
    lastRequestAt: timeOrNull,
    wokenAt: timeOrNull,
    liveAt: timeOrNull,
  },
  ["name", "state", "hostname", "server", "deployment", "sha"],
);

export const PREVIEW: JsonSchema = obj(
  { name: str, pullRequest: int, state: str, fork: { type: "boolean" }, headSha: strOrNull, url: str, live: { type: "boolean" }, createdAt: time },
  ["name", "pullRequest", "state", "url", "live"],
);

export const SERVER: JsonSchema = obj(
  {
    name: str,
    docker: str,
    labels: { type: "object", additionalProperties: str },
    state: str,
    error: strOrNull,
    checkedAt: timeOrNull,
    engine: { type: ["object", "null"] },
    containers: intOrNull,
    running: intOrNull,
    apps: int,
  },
  ["name", "docker", "state", "apps"],
);

export const DOMAIN: JsonSchema = obj({ name: str, redirectTo: strOrNull, source: str, state: { type: "string", enum: ["routed", "pending"] }, problem: strOrNull, checkedAt: timeOrNull });

export const TOKEN: JsonSchema = obj({ id: int, name: str, createdAt: time, lastUsedAt: timeOrNull });

/** The error answer every route may give, with the condition it stands for. */
export const err = (description: string): ResponseDoc => ({ description, schema: ERROR });
export const json = (description: string, schema: JsonSchema): ResponseDoc => ({ description, schema });
export const empty = (description: string): ResponseDoc => ({ description });
