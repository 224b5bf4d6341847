import { describe, expect, it } from "vitest";
import { COMMANDS, run } from "../../cli/berth.js";

const cli = async (...argv: string[]) => {
  const lines: string[] = [];
  const code = await run(argv, { BERTH_API_TOKEN: "t", BERTH_PUBLIC_URL: "http://127.0.0.1:9" }, (l) => lines.push(l), () => "piped\n");
  return { code, text: lines.join("\n") };
};

describe("berth's command line", () => {
  it("lists every command in --help, and explains each one with <command> --help", async () => {
    const all = await cli("--help");
    expect(all.code).toBe(0);
    for (const c of COMMANDS) expect(all.text).toContain(`  ${c.name}`);
    for (const c of COMMANDS) {
      const one = await cli(...c.name.split(" "), "--help");
      expect([one.code, one.text.split("\n")[0]]).toEqual([0, `usage: berth ${c.name}${c.usage ? ` ${c.usage}` : ""} [--json]`]);
    }
  });

  it("refuses what does not fit with the command's usage and exit code 2", async () => {
    expect(await cli("nope")).toMatchObject({ code: 2, text: expect.stringContaining("berth: unknown command nope") });
    // A secret value is never an argument: it would stay in shell history and the process list.
    expect(await cli("secrets", "set", "shop", "API_KEY", "s3cret")).toMatchObject({ code: 2, text: expect.stringContaining("expected 2 arguments") });
    expect(await cli("cancel", "abc")).toMatchObject({ code: 2, text: expect.stringContaining("expected a deployment id") });
    expect(await cli("redeploy", "shop", "--bogus")).toMatchObject({ code: 2, text: expect.stringContaining("Unknown option '--bogus'") });
    expect(await cli("servers", "add", "d", "--docker", "tcp://x:2376", "--label", "nolabel")).toMatchObject({ code: 2, text: expect.stringContaining("--label expects key=value") });
    expect(await cli()).toMatchObject({ code: 2 });
  });

  it("says the server cannot be reached with exit code 1", async () => {
    const r = await cli("apps");
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^berth: /);
  });
});
