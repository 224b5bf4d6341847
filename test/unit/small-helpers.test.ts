import { describe, expect, it } from "vitest";
import { lastLines } from "../../core/errors.js";
import { enterpriseFetch } from "../../github/enterprise-fetch.js";
import { Sensitive } from "../../core/sensitive.js";
import { demux, dockerOptions } from "../../releaser/docker-wire.js";

describe("enterpriseFetch", () => {
  it("sends github.com API requests to the Enterprise API and leaves others alone", async () => {
    const seen: string[] = [];
    const base = (async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response("{}");
    }) as typeof fetch;
    const f = enterpriseFetch("http://ghe.local/api/v3", base);
    await f("https://api.github.com/app/installations/1/access_tokens");
    await f("http://ghe.local/api/v3/repos/o/r");
    expect(seen).toEqual(["http://ghe.local/api/v3/app/installations/1/access_tokens", "http://ghe.local/api/v3/repos/o/r"]);
    expect(enterpriseFetch("https://api.github.com", base)).toBe(base);
  });
});

describe("Sensitive", () => {
  it("redacts itself in strings, JSON and inspection", () => {
    const s = new Sensitive("hunter2");
    expect(`${s}`).toBe("[redacted]");
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(s.unwrap()).toBe("hunter2");
  });
});

describe("docker helpers", () => {
  it("decodes multiplexed log frames", () => {
    const frame = (kind: number, text: string) => {
      const b = Buffer.alloc(8 + text.length);
      b[0] = kind;
      b.writeUInt32BE(text.length, 4);
      b.write(text, 8);
      return b;
    };
    expect(demux(Buffer.concat([frame(1, "out\n"), frame(2, "err\n")]))).toBe("out\nerr\n");
    expect(demux(Buffer.from("plain tty\n"))).toBe("plain tty\n");
  });

  it("maps Docker endpoints to dockerode options", () => {
    expect(dockerOptions("unix:///var/run/docker.sock")).toEqual({ socketPath: "/var/run/docker.sock" });
    expect(dockerOptions("tcp://10.0.0.5:2375", {})).toEqual({ protocol: "http", host: "10.0.0.5", port: 2375 });
    expect(dockerOptions("ssh://deploy@droid1", {})).toEqual({ protocol: "ssh", host: "droid1", port: 22, username: "deploy" });
  });

  it("keeps the last non-empty lines", () => {
    expect(lastLines("a\n\nb\nc\n\n", 2)).toBe("b\nc");
  });
});
