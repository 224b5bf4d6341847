/**
 * The JSON Schema subset berth's API describes itself with: the same object validates a request body
 * and goes into the OpenAPI 3.1 document (whose schemas are JSON Schema 2020-12), so the document
 * cannot drift from what the server accepts. Hand-written rather than ajv: the schemas are a few
 * flat objects, this is ~80 lines against ajv's ~1 MB and code generation at start, and the messages
 * name the path (`body.tls.ca: expected a string`).
 */
export type JsonType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "null";

export interface JsonSchema {
  type?: JsonType | readonly JsonType[];
  description?: string;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  /** false: unknown keys are refused; a schema: what every other key's value must be. */
  additionalProperties?: boolean | JsonSchema;
  maxProperties?: number;
  items?: JsonSchema;
  maxItems?: number;
  enum?: readonly (string | number | boolean | null)[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  anyOf?: readonly JsonSchema[];
  format?: string;
}

const typeOf = (v: unknown): JsonType =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : (typeof v as JsonType);

const patterns = new Map<string, RegExp>();
const regex = (p: string): RegExp => {
  let r = patterns.get(p);
  if (!r) patterns.set(p, (r = new RegExp(p)));
  return r;
};

/** The first way `value` breaks `schema`, as `path: what was expected`; undefined when it conforms. */
export function schemaError(schema: JsonSchema, value: unknown, path = "body"): string | undefined {
  if (schema.anyOf) {
    const errors = schema.anyOf.map((s) => schemaError(s, value, path));
    if (errors.every((e) => e !== undefined)) return errors[0];
  }
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types: readonly JsonType[] = typeof schema.type === "string" ? [schema.type] : schema.type;
    if (!types.includes(t) && !(t === "integer" && types.includes("number"))) return `${path}: expected ${types.join(" or ")}, got ${t}`;
  }
  if (schema.enum && !schema.enum.includes(value as string)) return `${path}: expected one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  if (t === "string") {
    const s = value as string;
    if (schema.minLength !== undefined && s.length < schema.minLength) return `${path}: expected at least ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && s.length > schema.maxLength) return `${path}: expected at most ${schema.maxLength} characters`;
    if (schema.pattern !== undefined && !regex(schema.pattern).test(s)) return `${path}: expected a string matching ${schema.pattern}`;
  }
  if (t === "number" || t === "integer") {
    const n = value as number;
    if (schema.minimum !== undefined && n < schema.minimum) return `${path}: expected at least ${schema.minimum}`;
    if (schema.maximum !== undefined && n > schema.maximum) return `${path}: expected at most ${schema.maximum}`;
  }
  if (t === "array") {
    const a = value as unknown[];
    if (schema.maxItems !== undefined && a.length > schema.maxItems) return `${path}: expected at most ${schema.maxItems} items`;
    if (schema.items) for (let i = 0; i < a.length; i++) {
      const e = schemaError(schema.items, a[i], `${path}[${i}]`);
      if (e) return e;
    }
  }
  if (t === "object") {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) return `${path}: expected at most ${schema.maxProperties} keys`;
    for (const k of schema.required ?? []) if (!Object.hasOwn(o, k)) return `${path}.${k}: required`;
    for (const k of keys) {
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's.
      const sub = schema.properties && Object.hasOwn(schema.properties, k) ? schema.properties[k] : undefined;
      if (sub) {
        const e = schemaError(sub, o[k], `${path}.${k}`);
        if (e) return e;
      } else if (schema.additionalProperties === false) {
        return `${path}.${k.slice(0, 64)}: unknown key`;
      } else if (typeof schema.additionalProperties === "object") {
        const e = schemaError(schema.additionalProperties, o[k], `${path}.${k.slice(0, 64)}`);
        if (e) return e;
      }
    }
  }
  return undefined;
}
