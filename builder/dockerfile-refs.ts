/**
 * The images a Dockerfile builds on or copies from (FROM, COPY --from, RUN --mount from=), with ARG
 * defaults and build args substituted as Docker does, and its own stage names left out.
 */
export function imageReferences(dockerfile: string, buildArgs: Readonly<Record<string, string>>): { ref: string; line: number }[] {
  const args = new Map<string, string>(); // ARGs before the first FROM, which FROM lines may use
  const stages = new Set<string>();
  const refs: { ref: string; line: number }[] = [];
  let seenFrom = false;
  for (const { text, line } of logicalLines(dockerfile)) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(text);
    if (!m) continue;
    const instruction = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (instruction === "ARG" && !seenFrom) {
      for (const decl of rest.trim().split(/\s+/)) {
        const [name, value] = splitOnce(decl, "=");
        args.set(name, buildArgs[name] ?? (value !== undefined ? unquote(value) : ""));
      }
    } else if (instruction === "FROM") {
      seenFrom = true;
      const words = rest.trim().split(/\s+/).filter((w) => !w.startsWith("--"));
      const ref = expand(words[0] ?? "", args);
      if (words[1]?.toUpperCase() === "AS" && words[2]) stages.add(words[2].toLowerCase());
      if (!stages.has(ref.toLowerCase()) && ref.toLowerCase() !== "scratch") refs.push({ ref, line });
    } else if (instruction === "COPY" || instruction === "ADD" || instruction === "RUN") {
      for (const flag of rest.match(/--(?:from=\S+|mount=\S+)/g) ?? []) {
        const from = flag.startsWith("--from=") ? flag.slice(7) : /(?:^|,)from=([^,]+)/.exec(flag.slice(8))?.[1];
        if (!from) continue;
        const ref = expand(unquote(from), args);
        if (!stages.has(ref.toLowerCase()) && !/^\d+$/.test(ref)) refs.push({ ref, line });
      }
    }
  }
  return refs;
}

/** The Dockerfile's instructions, with backslash line continuations joined and comments dropped. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current = "";
  let start = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    if (current === "" && /^\s*#/.test(raw)) return;
    if (current === "") start = i + 1;
    if (/\\\s*$/.test(raw)) current += raw.replace(/\\\s*$/, " ");
    else {
      out.push({ text: current + raw, line: start });
      current = "";
    }
  });
  if (current) out.push({ text: current, line: start });
  return out;
}

/** $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} as Docker substitutes them in FROM. */
function expand(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
    const v = args.get((braced ?? bare)!) ?? "";
    if (op === "-") return v || (word ?? "");
    if (op === "+") return v ? (word ?? "") : "";
    return v;
  });
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function unquote(s: string): string {
  return s.replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
}
