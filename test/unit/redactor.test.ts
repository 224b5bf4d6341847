import { describe, expect, it } from "vitest";
import { Redactor } from "../../core/redactor.js";
import { Sensitive } from "../../core/sensitive.js";

describe("Redactor", () => {
  const r = new Redactor([new Sensitive("hunter2-password"), "abc", new Sensitive("-----BEGIN KEY-----\nMIIEsecretline\n-----END KEY-----")]);

  it("masks every value, whole and line by line, but not values too short to mean anything", () => {
    expect(r.redact("db=hunter2-password, again hunter2-password")).toBe("db=[redacted], again [redacted]");
    expect(r.redact("#5 0.3 MIIEsecretline")).toBe("#5 0.3 [redacted]");
    expect(r.redact("abc stays")).toBe("abc stays");
    expect(Redactor.none.redact("hunter2-password")).toBe("hunter2-password");
  });

  it("masks a value split across chunks, holding back only what could begin a secret", () => {
    const s = r.stream();
    const out = [s.push("connecting with hunt"), s.push("er2-pass"), s.push("word ok\nplain text"), s.end()];
    expect(out.join("")).toBe("connecting with [redacted] ok\nplain text");
    expect(out[0]).toBe("connecting with "); // "hunt" could begin the password: held
    expect(out[2]).toBe("[redacted] ok\nplain text"); // nothing held when the end cannot begin a secret
  });

  it("emits a held beginning that turned out not to be a secret", () => {
    const s = r.stream();
    expect(s.push("user hunter")).toBe("user ");
    expect(s.push("s are welcome")).toBe("hunters are welcome");
    expect(s.end()).toBe("");
  });

  it("masks a value split into single characters", () => {
    const s = r.stream();
    const out = [..."x=hunter2-password;"].map((c) => s.push(c)).join("") + s.end();
    expect(out).toBe("x=[redacted];");
  });
});
