// Python's shlex (what docker-compose uses) treats exactly these as word separators.
const WHITESPACE = new Set([" ", "\t", "\r", "\n"]);

/**
 * Splits a command string into argv the way docker-compose does (Python's `shlex.split`, POSIX mode):
 * single quotes keep everything literally, double quotes let `\` escape only `"` and `\`, and outside
 * quotes `\` escapes any character. No shell runs and nothing is expanded: `$HOME` stays `$HOME`.
 * Throws an Error whose message says what is unbalanced.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = "";
  // Separate from `word !== ""` because `''` is a word of its own, the empty string.
  let inWord = false;
  let quote: { char: string; at: number } | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quote?.char === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote?.char === '"') {
      const next = text.charAt(i + 1);
      if (c === '"') quote = undefined;
      else if (c === "\\" && (next === '"' || next === "\\")) word += text.charAt(++i);
      else word += c;
    } else if (c === "\\") {
      if (i + 1 === text.length) throw new Error("ends with a lone backslash; write \\\\ for a literal one");
      word += text.charAt(++i);
      inWord = true;
    } else if (c === "'" || c === '"') {
      quote = { char: c, at: i + 1 };
      inWord = true;
    } else if (WHITESPACE.has(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`the ${quote.char} opened at character ${quote.at} is never closed`);
  if (inWord) words.push(word);
  return words;
}
