import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format, inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { lastLines } from "../../core/errors.js";
import { enterpriseFetch } from "../../github/enterprise-fetch.js";
import { Sensitive } from "../../core/sensitive.js";
import { demux, dockerOptions } from "../../releaser/docker-wire.js";

describe("enterpriseFetch", () => {
  const recording = () => {
    const seen: { url: string; method?: string; auth?: string }[] = [];
    const base = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(input), method: init?.method, auth: new Headers(init?.headers).get("authorization") ?? undefined });
      return new Response("{}");
    }) as typeof fetch;
    return { seen, base };
  };

  it("keeps a Request's method, headers and body when it moves it to the Enterprise API", async () => {
    let got: Request | undefined;
    const base = (async (input: string | URL | Request) => {
      got = input as Request;
      return new Response("{}");
    }) as typeof fetch;
    await enterpriseFetch("http://ghe.local/api/v3", base)(new Request("https://api.github.com/repos/o/r/issues", { method: "POST", headers: { authorization: "token t" }, body: '{"title":"x"}' }));
    expect([got?.url, got?.method, got?.headers.get("authorization"), await got?.text()]).toEqual(["http://ghe.local/api/v3/repos/o/r/issues", "POST", "token t", '{"title":"x"}']);
  });

  it("sends github.com API requests to the Enterprise API, with their method and headers, and leaves others alone", async () => {
    const { seen, base } = recording();
    const f = enterpriseFetch("http://ghe.local/api/v3/", base);
    await f("https://api.github.com/app/installations/1/access_tokens", { method: "POST", headers: { authorization: "Bearer ey.jwt" } });
    await f(new URL("https://api.github.com/repos/o/r"));
    await f("http://ghe.local/api/v3/repos/o/r", { method: "PATCH" });
    await f("https://api.github.com.evil.example/x");
    expect(seen).toEqual([
      { url: "http://ghe.local/api/v3/app/installations/1/access_tokens", method: "POST", auth: "Bearer ey.jwt" },
      { url: "http://ghe.local/api/v3/repos/o/r", method: undefined, auth: undefined },
      { url: "http://ghe.local/api/v3/repos/o/r", method: "PATCH", auth: undefined },
      { url: "https://api.github.com.evil.example/x", method: undefined, auth: undefined },
    ]);
  });

  it("is the plain fetch when the API is github.com itself", () => {
    const { base } = recording();
    expect(enterpriseFetch("https://api.github.com", base)).toBe(base);
    expect(enterpriseFetch("https://api.github.com/", base)).toBe(base);
  });
});

describe("Sensitive", () => {
  it("redacts itself in strings, JSON and inspection", () => {
    const s = new Sensitive("hunter2");
    expect(`${s}`).toBe("[redacted]");
    expect(String(s)).toBe("[redacted]");
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect(s)).toBe("[redacted]");
    expect(inspect({ nested: { s } }, { depth: 5 })).not.toContain("hunter2");
    expect(format("%s %o %j", s, s, { s })).not.toContain("hunter2"); // what a logger's format string does
    expect(s.unwrap()).toBe("hunter2");
  });
});

describe("docker helpers", () => {
  it("decodes multiplexed log frames, and passes a TTY's plain output through", () => {
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

  it("maps unix, tcp and ssh Docker endpoints to dockerode options", () => {
    expect(dockerOptions("unix:///var/run/docker.sock", {})).toEqual({ socketPath: "/var/run/docker.sock" });
    expect(dockerOptions("tcp://10.0.0.5:2375", {})).toEqual({ protocol: "http", host: "10.0.0.5", port: 2375 });
    expect(dockerOptions("tcp://10.0.0.5", {})).toEqual({ protocol: "http", host: "10.0.0.5", port: 2375 });
    expect(dockerOptions("ssh://deploy@droid1", {})).toEqual({ protocol: "ssh", host: "droid1", port: 22, username: "deploy" });
    expect(dockerOptions("ssh://droid1:2222", {})).toEqual({ protocol: "ssh", host: "droid1", port: 2222, username: "root" });
  });

  it("uses TLS for https endpoints, DOCKER_TLS_VERIFY=1, or the client certificates in DOCKER_CERT_PATH", () => {
    expect(dockerOptions("https://droid1", {})).toEqual({ protocol: "https", host: "droid1", port: 2376 });
    expect(dockerOptions("tcp://droid1", { DOCKER_TLS_VERIFY: "1" })).toEqual({ protocol: "https", host: "droid1", port: 2376 });
    const certs = mkdtempSync(join(tmpdir(), "berth-certs-"));
    try {
      for (const f of ["ca", "cert", "key"]) writeFileSync(join(certs, `${f}.pem`), `${f} pem`);
      expect(dockerOptions("tcp://droid1:2376", { DOCKER_CERT_PATH: certs })).toEqual({
        protocol: "https",
        host: "droid1",
        port: 2376,
        ca: "ca pem",
        cert: "cert pem",
        key: "key pem",
      });
    } finally {
      rmSync(certs, { recursive: true, force: true });
    }
  });
});

describe("lastLines", () => {
  it("keeps the last non-empty lines", () => {
    expect(lastLines("a\n\nb\nc\n\n", 2)).toBe("b\nc");
    expect(lastLines("a\n  \nb\n", 5)).toBe("a\nb");
    expect(lastLines("", 3)).toBe("");
  });
});
