import { RE2JS } from "re2js";

/*
 * Watch globs come from the repository and changed paths from its pushes, so both are chosen by
 * whoever can push. A backtracking engine (JavaScript's RegExp, and the glob libraries that compile to
 * it) takes time exponential in the number of stars on a path that almost matches; RE2 simulates the
 * automaton instead and takes time linear in the path for any pattern.
 */

/** The RE2 pattern of a watch glob: `**` any depth, `*` and `?` within one path segment. */
export function globToPattern(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob.charAt(i);
    if (ch === "*" && glob.charAt(i + 1) === "*") {
      // `a/**/b` also matches `a/b`; a trailing `/**` also matches the directory itself.
      if (glob.charAt(i + 2) === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (ch === "*") out += "[^/]*";
    else if (ch === "?") out += "[^/]";
    else out += ch.replace(/[.+*?^${}()|[\]\\]/g, "\\$&");
  }
  return out.replace(/\/\.\*$/, "(?:/.*)?");
}

/** A watch glob compiled for whole-path matching in time linear in the path. */
export function compileGlob(glob: string): { matches(path: string): boolean } {
  // DOTALL: a file name may hold a newline, and `**` must cross it like any other character.
  const re = RE2JS.compile(globToPattern(glob), RE2JS.DOTALL);
  return { matches: (path) => re.testExact(path) };
}

/**
 * Whether a push must build: yes when nothing is watched or the changed paths are unknown (a new
 * branch, a force push, more commits than the payload lists); otherwise only when a changed path
 * matches a watch glob.
 */
export function touchesWatched(watch: readonly string[], changed: readonly string[] | null): boolean {
  if (watch.length === 0 || changed === null) return true;
  const patterns = watch.map(compileGlob);
  return changed.some((path) => patterns.some((p) => p.matches(path)));
}
