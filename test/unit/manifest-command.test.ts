import { describe, expect, it } from "vitest";
import { splitCommand } from "../../manifest/command.js";

// Expected values are what Python's shlex.split (docker-compose's splitter) returns for the same input.
describe("splitCommand", () => {
  it.each([
    ["rq worker --url redis://redis:6379/0", ["rq", "worker", "--url", "redis://redis:6379/0"]],
    [`  sh -c 'echo "$HOME" && exit 1'  `, ["sh", "-c", 'echo "$HOME" && exit 1']],
    [String.raw`echo "a \" b" 'c \ d' e\ f`, ["echo", 'a " b', String.raw`c \ d`, "e f"]],
    [String.raw`say "x\$y\\z\n"`, ["say", String.raw`x\$y\z\n`]],
    [`a''b '' ""`, ["ab", "", ""]],
    ["a\tb\nc", ["a", "b", "c"]],
    [String.raw`printf "%s\n" it\'s`, ["printf", String.raw`%s\n`, "it's"]],
    ["echo # not a comment", ["echo", "#", "not", "a", "comment"]],
    [`--flag="quoted value" --other='x y'`, ["--flag=quoted value", "--other=x y"]],
    [String.raw`back\\slash`, [String.raw`back\slash`]],
    ["   ", []],
  ])("splits %j", (input, argv) => {
    expect(splitCommand(input)).toEqual(argv);
  });

  it("says which quote is left open, and refuses a trailing backslash", () => {
    expect(() => splitCommand("echo 'open")).toThrow("the ' opened at character 6 is never closed");
    expect(() => splitCommand('echo "open\\')).toThrow('the " opened at character 6 is never closed');
    expect(() => splitCommand("echo trailing\\")).toThrow("ends with a lone backslash; write \\\\ for a literal one");
  });
});
