import { describe, expect, it } from "vitest";
import { SecretBox, decodeSecretKey } from "../../core/secret-box.js";
import { Sensitive } from "../../core/sensitive.js";

const key = new Sensitive("ab".repeat(32));

describe("SecretBox", () => {
  it("round-trips a value and never shows it in the sealed form", () => {
    const box = new SecretBox(key);
    const sealed = box.seal("app:1:secret:DB_PASSWORD", new Sensitive("hunter2"));
    expect(sealed).toMatch(/^v1:[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain("hunter2");
    expect(box.open("app:1:secret:DB_PASSWORD", sealed).unwrap()).toBe("hunter2");
    expect(box.seal("app:1:secret:DB_PASSWORD", new Sensitive("hunter2"))).not.toBe(sealed); // fresh nonce each time
  });

  it("refuses a value moved to another secret, a tampered value or another key", () => {
    const box = new SecretBox(key);
    const sealed = box.seal("app:1:secret:A", new Sensitive("x"));
    expect(() => box.open("app:2:secret:A", sealed)).toThrow();
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    expect(() => box.open("app:1:secret:A", `v1:${raw.toString("base64")}`)).toThrow();
    expect(() => new SecretBox(new Sensitive("cd".repeat(32))).open("app:1:secret:A", sealed)).toThrow();
  });

  it("derives a key per purpose: the same from the same secret, another for another purpose or secret, never the secret itself", () => {
    const a = new SecretBox(key).derive("front-door:berth:eu").unwrap();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(new SecretBox(key).derive("front-door:berth:eu").unwrap()).toBe(a);
    expect(new SecretBox(key).derive("front-door:berth:us").unwrap()).not.toBe(a);
    expect(new SecretBox(new Sensitive("cd".repeat(32))).derive("front-door:berth:eu").unwrap()).not.toBe(a);
    expect(a).not.toBe(key.unwrap());
    expect(String(new SecretBox(key).derive("x"))).toBe("[redacted]");
  });

  it("accepts 32-byte keys as hex or base64 only", () => {
    expect(decodeSecretKey("ab".repeat(32))?.length).toBe(32);
    expect(decodeSecretKey(Buffer.alloc(32, 7).toString("base64"))?.length).toBe(32);
    expect(decodeSecretKey("too-short")).toBeUndefined();
    expect(() => new SecretBox(new Sensitive("nope"))).toThrow("BERTH_SECRET_KEY must be 32 bytes");
  });
});
