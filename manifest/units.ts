const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Milliseconds of a duration such as `500ms`, `2s`, `5m`, `1h`, `7d` or `1h30m`; undefined when the
 * text is not one. A unit is required: a bare `30` could mean seconds or milliseconds.
 */
export function parseDuration(text: string): number | undefined {
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = DURATION_PART.exec(text); m; m = DURATION_PART.exec(text)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ""] ?? Number.NaN);
    end = DURATION_PART.lastIndex;
  }
  if (end === 0 || end !== text.length || !Number.isFinite(total)) return undefined;
  return Math.round(total);
}

const MEMORY_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
// The forms Docker's own RAMInBytes accepts (512m, 512mb, 512 MiB, 1.5g), so compose files carry over.
const MEMORY = /^(\d+(?:\.\d+)?) ?(?:([kmgt])i?b?|(b))?$/i;

/** Bytes of a memory size: `512m`, `1g`, `256k` (powers of 1024) or a whole number of bytes; undefined otherwise. */
export function parseMemory(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = MEMORY.exec(value.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? m[3] ?? "").toLowerCase();
  const bytes = Math.floor(Number(m[1]) * (MEMORY_UNITS[unit] ?? Number.NaN));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
