/** Turns a watch glob into a regular expression: `**` any depth, `*` and `?` within one path segment. */
export function globToRegExp(glob: string): RegExp {
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
    else out += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out.replace(/\/\.\*$/, "(?:/.*)?")}$`);
}

/**
 * Whether a push must build: yes when nothing is watched or the changed paths are unknown (a new
 * branch, a force push, more commits than the payload lists); otherwise only when a changed path
 * matches a watch glob.
 */
export function touchesWatched(watch: readonly string[], changed: readonly string[] | null): boolean {
  if (watch.length === 0 || changed === null) return true;
  const patterns = watch.map(globToRegExp);
  return changed.some((path) => patterns.some((re) => re.test(path)));
}
