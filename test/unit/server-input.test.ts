import { describe, expect, it } from "vitest";
import { dockerUrlProblem, parseServerInput } from "../../server/server-input.js";
import { classifyEngineError } from "../../releaser/check-engine.js";
import { engineOptions } from "../../releaser/docker-wire.js";
import { Sensitive } from "../../core/sensitive.js";

const error = (body: unknown): string | undefined => {
  const r = parseServerInput(body);
  return r.ok ? undefined : r.error;
};

describe("server registration input", () => {
  it("takes tcp://HOST[:PORT], ssh://USER@HOST[:PORT] and unix:///PATH, and nothing else", () => {
    for (const ok of ["tcp://10.0.0.5:2376", "tcp://droid.example.com", "tcp://[fd00::5]:2376", "ssh://deploy@droid.example.com:2222", "unix:///run/user/1000/docker.sock"]) expect(dockerUrlProblem(ok)).toBeUndefined();
    expect(dockerUrlProblem("tcp://10.0.0.5:2376/v1.41")).toBe('docker: expected tcp://HOST[:PORT] and nothing else; got "tcp://10.0.0.5:2376/v1.41"');
    expect(dockerUrlProblem("tcp://user@10.0.0.5")).toBe("docker: a tcp:// URL carries no user name");
    expect(dockerUrlProblem("ssh://u:pw@h")).toBe('docker: expected ssh://USER@HOST[:PORT] and nothing else; got "ssh://u:pw@h"');
    expect(dockerUrlProblem("unix://relative/sock")).toBe('docker: expected unix:///absolute/path/docker.sock; got "unix://relative/sock"');
    expect(dockerUrlProblem("https://h:2376")).toBe('docker: the scheme must be tcp, ssh or unix; got "https"');
    expect(dockerUrlProblem("10.0.0.5:2376")).toBe('docker: expected tcp://HOST:2376, ssh://USER@HOST or unix:///PATH; got "10.0.0.5:2376"');
    expect(dockerUrlProblem("not a url")).toBe('docker: expected tcp://HOST:2376, ssh://USER@HOST or unix:///PATH; got "not a url"');
  });

  it("checks names, labels and the TLS bundle's shape and size", () => {
    const base = { name: "eu-1", docker: "ssh://root@h" };
    expect(parseServerInput({ ...base, labels: { region: "eu" } })).toEqual({ ok: true, value: { name: "eu-1", docker: "ssh://root@h", labels: { region: "eu" } } });
    expect(error({ ...base, name: "-a" })).toBe('name: expected 1 to 32 lower case letters, digits and inner hyphens (like droid-1); got "-a"');
    expect(error({ ...base, name: "a".repeat(33) })).toMatch(/^name: expected 1 to 32/);
    expect(error({ ...base, labels: { Region: "eu" } })).toBe('labels: key "Region" must be lower case letters, digits and . _ / - (at most 63)');
    expect(error({ ...base, labels: { region: "e u" } })).toBe('labels.region: expected letters, digits and . _ - (at most 63); got "e u"');
    expect(error({ ...base, labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])) })).toBe("labels: at most 32; got 33");
    expect(error([])).toBe('expected a JSON object {"name", "docker", "tls": {"ca", "cert", "key"}, "labels"}');
    const tcp = { name: "d", docker: "tcp://h:2376" };
    expect(error({ ...tcp, tls: { ca: "x", cert: "x", key: "x" } })).toBe("tls.ca: expected 64 to 32768 characters of PEM; got 1");
    expect(error({ ...tcp, tls: { ca: "y".repeat(40_000), cert: "x", key: "x" } })).toBe("tls.ca: expected 64 to 32768 characters of PEM; got 40000");
    expect(error({ ...tcp, tls: { ca: "z".repeat(100), cert: "x", key: "x" } })).toBe("tls.ca: expected a PEM CERTIFICATE block (-----BEGIN CERTIFICATE-----)");
    const garbled = `-----BEGIN CERTIFICATE-----\n${"A".repeat(80)}\n-----END CERTIFICATE-----\n`;
    expect(error({ ...tcp, tls: { ca: garbled, cert: garbled, key: "x" } })).toMatch(/^tls\.ca: not a readable certificate: /);
    expect(error({ ...tcp, tls: { ca: "a", cert: "b", key: "c", pass: "d" } })).toBe("tls: unknown field pass; expected ca, cert, key");
  });
});

describe("engine check errors", () => {
  const classify = (e: unknown): [string, string] => {
    const r = classifyEngineError(e, "tcp://h:2376", 5000);
    return [r.problem, r.message];
  };
  it("sorts failures into unreachable, TLS refused and not a Docker engine", () => {
    expect(classify(Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:2376"), { code: "ECONNREFUSED" }))).toEqual([
      "unreachable",
      "cannot reach tcp://h:2376: connect ECONNREFUSED 10.0.0.5:2376. Check the address and port, that the engine runs, and the firewall.",
    ]);
    expect(classify(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" }))[1]).toBe("tcp://h:2376 did not answer within 5s: check that the engine runs and that a firewall lets berth's host reach that port.");
    expect(classify(Object.assign(new Error("self-signed certificate in certificate chain"), { code: "SELF_SIGNED_CERT_IN_CHAIN" }))).toEqual([
      "tls",
      "TLS with tcp://h:2376 failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN). The engine must present a certificate signed by the given ca.pem, and accept the given cert.pem, signed by the CA it trusts (provision-droid.sh prints a matching bundle).",
    ]);
    expect(classify(Object.assign(new Error("write EPROTO ...:ssl3_get_record:wrong version number"), { code: "EPROTO" }))[0]).toBe("not-docker");
    expect(classify(Object.assign(new Error("(HTTP code 404) unexpected - page not found"), { statusCode: 404 }))[0]).toBe("not-docker");
  });
});

describe("engineOptions", () => {
  it("speaks TLS with a bundle, unwrapping the key only here", () => {
    const tls = { ca: "CA", cert: "CERT", key: new Sensitive("KEY") };
    expect(engineOptions("tcp://10.0.0.5", tls)).toEqual({ protocol: "https", host: "10.0.0.5", port: 2376, ca: "CA", cert: "CERT", key: "KEY" });
    expect(engineOptions("tcp://[fd00::5]:2400", tls)).toMatchObject({ host: "fd00::5", port: 2400 });
    expect(engineOptions("ssh://deploy@h:2222")).toEqual({ protocol: "ssh", host: "h", port: 2222, username: "deploy" });
  });
});
