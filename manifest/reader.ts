import { splitCommand } from "./command.js";
import { MAX_COUNT, MAX_LENGTH } from "./limits.js";
import { type ManifestIssue, type ManifestPath, formatPath } from "./manifest-error.js";
import { parseDuration } from "./units.js";
import { type LineTree, lineOf } from "./yaml.js";

/** Reads the value found at `path`; undefined after reporting a problem. {@link fields} skips keys set to nothing. */
export type Read<T> = (ctx: ManifestContext, path: ManifestPath, raw: unknown) => T | undefined;

/** The keys a mapping may have, each with its reader: one entry of the manifest schema. */
export type Shape = Record<string, Read<unknown>>;

/** What {@link fields} returns for a shape: every key optional, typed by its reader. */
export type Fields<S extends Shape> = { [K in keyof S]?: S[K] extends Read<infer T> ? T : never };

/** Names declared elsewhere in the file, which references must match. */
export interface Declared {
  secrets: ReadonlySet<string>;
  volumes: ReadonlySet<string>;
  services: ReadonlySet<string>;
  processes: ReadonlySet<string>;
}

/** Collects issues with the line of their key while the schema reads a manifest. */
export class ManifestContext {
  readonly issues: ManifestIssue[] = [];

  constructor(
    private readonly lines: LineTree,
    readonly declared: Declared,
  ) {}

  /** Records a problem at `path`; returns undefined so readers can `return ctx.fail(…)`. */
  fail(path: ManifestPath, message: string): undefined {
    this.issues.push({ path: formatPath(path), line: lineOf(this.lines, path), message });
    return undefined;
  }
}

/** A YAML mapping as parsed (see manifest-yaml.ts). */
export function isMapping(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw);
}

/** A short description of a value for "got …" in messages. */
export function describe(raw: unknown): string {
  if (raw === null || raw === undefined) return "nothing";
  if (Array.isArray(raw)) return "a list";
  if (typeof raw === "object") return "a mapping";
  if (typeof raw === "string") return JSON.stringify(raw.length > 60 ? raw.slice(0, 57) + "..." : raw);
  return String(raw);
}

/** Sets an own key even when it is `__proto__`, which plain assignment would turn into a prototype. */
export function put<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The object without its undefined keys, so normalized output holds only what was set or defaulted. */
export function withoutUndefined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads a mapping with the given keys: unknown keys are reported (naming the allowed ones), keys set to
 * nothing (`key:`) count as absent, and each present key is read by its reader.
 */
export function fields<S extends Shape>(ctx: ManifestContext, path: ManifestPath, raw: unknown, shape: S): Fields<S> | undefined {
  const allowed = Object.keys(shape);
  if (!isMapping(raw)) return ctx.fail(path, `expected a mapping with keys ${allowed.join(", ")}; got ${describe(raw)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const read = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!read) {
      ctx.fail([...path, key], unknownKey(key, allowed));
      continue;
    }
    if (value === null || value === undefined) continue;
    const v = read(ctx, [...path, key], value);
    if (v !== undefined) out[key] = v;
  }
  return out as Fields<S>;
}

/** `unknown key "imag" (did you mean "image"?); allowed keys: image, command, …`. */
export function unknownKey(key: string, allowed: readonly string[]): string {
  // Two typos in a short key would make every short key look close.
  const close = allowed.find((a) => editDistance(a, key.toLowerCase()) <= (a.length >= 5 ? 2 : 1));
  return `unknown key "${key}"${close ? ` (did you mean "${close}"?)` : ""}; allowed keys: ${allowed.join(", ")}`;
}

/** Reports `path.key` as required when the mapping lacks it (or sets it to nothing). */
export function requireKey(ctx: ManifestContext, path: ManifestPath, raw: unknown, key: string, hint: string): void {
  if (isMapping(raw) && raw[key] !== null && raw[key] !== undefined) return;
  ctx.fail([...path, key], `required: ${hint}`);
}

/** A non-empty string of at most `max` characters. */
export function text(max: number): Read<string> {
  return (ctx, path, raw) => {
    if (typeof raw !== "string" || raw.trim() === "") return ctx.fail(path, `expected text; got ${describe(raw)}`);
    return atMostChars(ctx, path, raw, max) ? raw : undefined;
  };
}

/** Reports a list or mapping of more than `max` entries (`what` names them); false when it has too many. */
export function atMostEntries(ctx: ManifestContext, path: ManifestPath, raw: readonly unknown[] | object, max: number, what: string): boolean {
  const n = Array.isArray(raw) ? raw.length : Object.keys(raw).length;
  if (n <= max) return true;
  ctx.fail(path, `expected at most ${max} ${what}; got ${n}`);
  return false;
}

/** Reports text longer than `max` characters; false when it is too long. */
export function atMostChars(ctx: ManifestContext, path: ManifestPath, value: string, max: number): boolean {
  if (value.length <= max) return true;
  ctx.fail(path, `expected at most ${max} characters; got ${value.length}`);
  return false;
}

/** A whole number from min to max (inclusive). */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): Read<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  return (ctx, path, raw) => {
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < min || raw > max) {
      return ctx.fail(path, `expected a whole number ${range}; got ${describe(raw)}`);
    }
    return raw;
  };
}

/** A TCP port. */
export const port = wholeNumber(1, 65535);

/** One of a few words. */
export function oneOf<T extends string>(values: readonly T[]): Read<T> {
  return (ctx, path, raw) => {
    if (typeof raw === "string" && (values as readonly string[]).includes(raw)) return raw as T;
    return ctx.fail(path, `expected ${values.join(" or ")}; got ${describe(raw)}`);
  };
}

/** A duration such as `2s`, in milliseconds; `min` rejects zero where it makes no sense, `max` is written like the value (`1h`). */
export function duration(min: number, max: string): Read<number> {
  const maxMs = parseDuration(max) ?? 0;
  return (ctx, path, raw) => {
    const ms = typeof raw === "string" ? parseDuration(raw.trim()) : undefined;
    if (ms === undefined) {
      const unit = typeof raw === "number" ? " (a unit is required)" : "";
      return ctx.fail(path, `expected a duration such as 500ms, 2s, 5m, 1h or 7d${unit}; got ${describe(raw)}`);
    }
    if (ms < min) return ctx.fail(path, `expected a duration longer than 0; got ${describe(raw)}`);
    if (ms > maxMs) return ctx.fail(path, `expected a duration of at most ${max}; got ${describe(raw)}`);
    return ms;
  };
}

/** A list whose items are each read by `item`; a single bad item does not hide the others. */
export function listOf<T>(item: Read<T>): Read<T[]> {
  return (ctx, path, raw) => {
    if (!Array.isArray(raw)) return ctx.fail(path, `expected a list; got ${describe(raw)}`);
    const out: T[] = [];
    raw.forEach((value, i) => {
      const v = item(ctx, [...path, i], value);
      if (v !== undefined) out.push(v);
    });
    return out;
  };
}

/**
 * A command: a list is argv as written, where numbers and true/false become words so that
 * `[sleep, 5]` works (quote "1.10" if YAML would read it as the number 1.1); a string is split into
 * words with shell-style quoting, without a shell (see splitCommand).
 */
export const command: Read<string[]> = (ctx, path, raw) => {
  if (typeof raw === "string") {
    if (!atMostChars(ctx, path, raw, MAX_LENGTH.command)) return undefined;
    let argv: string[];
    try {
      argv = splitCommand(raw);
    } catch (e) {
      return ctx.fail(path, `cannot split the command into words: ${(e as Error).message}`);
    }
    if (argv.length === 0) return ctx.fail(path, "expected a command; got an empty string");
    return argv;
  }
  if (!Array.isArray(raw)) return ctx.fail(path, `expected a command: a list of words or a string; got ${describe(raw)}`);
  if (raw.length === 0) return ctx.fail(path, "expected a command; got an empty list");
  if (!atMostEntries(ctx, path, raw, MAX_COUNT.commandWords, "words")) return undefined;
  const argv: string[] = [];
  let ok = true;
  raw.forEach((word, i) => {
    if (typeof word === "string") argv.push(word);
    else if (typeof word === "number" || typeof word === "boolean") argv.push(String(word));
    else {
      ctx.fail([...path, i], `expected a word (text); got ${describe(word)}`);
      ok = false;
    }
  });
  if (ok && !atMostChars(ctx, path, argv.join(" "), MAX_LENGTH.command)) return undefined;
  return ok ? argv : undefined;
};

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
