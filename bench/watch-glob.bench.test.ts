import { expect, it } from "vitest";
import { compileGlob } from "../builder/watch-plan.js";

/**
 * The worst case of a watch glob: k stars in one segment (`*a*a…*b`) against a path of n `a`s that
 * never ends in b, so a backtracking matcher tries every way of splitting the path among the stars
 * (about n^k/k! of them). The old matcher (JavaScript RegExp, kept here as it was) against RE2.
 * Run: npx vitest run --config vitest.bench.config.ts bench/watch-glob.bench.test.ts
 */

/** builder/watch-plan.ts before RE2: the same translation, run by JavaScript's backtracking RegExp. */
function oldGlobToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob.charAt(i);
    if (ch === "*" && glob.charAt(i + 1) === "*") {
      if (glob.charAt(i + 2) === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (ch === "*") out += "[^/]*";
    else if (ch === "?") out += "[^/]";
    else out += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out.replace(/\/\.\*$/, "(?:/.*)?")}$`);
}

const glob = (stars: number): string => "*a".repeat(stars - 1) + "*b";
const path = (n: number): string => "a".repeat(n);

function timeMs(match: () => boolean): number {
  const started = performance.now();
  expect(match()).toBe(false);
  return performance.now() - started;
}

// The old matcher's cases are kept small enough to finish: k=6 on 100 characters already takes seconds.
const OLD_CASES: [number, number][] = [[3, 200], [3, 400], [4, 100], [4, 200], [6, 100]];
// The manifest allows globs of 512 characters (up to 256 stars) and Git paths run to 4096 bytes.
const NEW_CASES: [number, number][] = [...OLD_CASES, [20, 4096], [100, 4096], [256, 4096]];

it("times a pathological watch glob, old (backtracking RegExp) against new (RE2)", () => {
  const rows: string[] = [];
  let oldWorst = 0;
  let newWorst = 0;
  for (const [k, n] of NEW_CASES) {
    const old = OLD_CASES.some(([a, b]) => a === k && b === n) ? timeMs(() => oldGlobToRegExp(glob(k)).test(path(n))) : undefined;
    const re2 = timeMs(() => compileGlob(glob(k)).matches(path(n)));
    oldWorst = Math.max(oldWorst, old ?? 0);
    newWorst = Math.max(newWorst, re2);
    rows.push(`${String(k).padStart(5)} ${String(n).padStart(6)} ${(old === undefined ? "(not run)" : old.toFixed(1)).padStart(12)} ${re2.toFixed(1).padStart(10)}`);
  }
  console.log(["stars   path     old (ms)   new (ms)", ...rows, `worst: old ${oldWorst.toFixed(0)} ms, new ${newWorst.toFixed(1)} ms`].join("\n"));
  expect(newWorst).toBeLessThan(oldWorst);
});
