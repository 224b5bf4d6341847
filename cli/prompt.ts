import { createInterface } from "node:readline";

/**
 * A secret value: what stdin holds when it is piped (its last newline dropped), or, on a terminal, a
 * line typed after the prompt with echo off. Never an argument, so it stays out of shell history and
 * of the process list.
 */
export async function readSecret(prompt: string, piped: () => string): Promise<string> {
  if (!process.stdin.isTTY) return piped().replace(/\r?\n$/, "");
  process.stderr.write(prompt);
  const rl = createInterface({ input: process.stdin, terminal: true });
  // Echo off: readline writes what is typed through this, which prints nothing.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const line = await new Promise<string>((resolve) => rl.once("line", resolve));
  rl.close();
  process.stderr.write("\n");
  return line;
}
