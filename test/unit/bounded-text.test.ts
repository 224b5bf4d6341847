import { describe, expect, it } from "vitest";
import { BoundedText } from "../../releaser/bounded-text.js";

describe("BoundedText", () => {
  it("keeps everything under its limit", () => {
    const t = new BoundedText(10);
    t.push("abc");
    t.push("defg");
    expect(t.toString()).toBe("abcdefg");
  });

  it("keeps the head and the tail of more, saying how much was cut", () => {
    const t = new BoundedText(10);
    t.push("abcd");
    t.push("efghij");
    t.push("klmnop");
    t.push("q");
    expect(t.toString()).toBe("abcde\n[... 7 characters of output cut ...]\nmnopq");
  });
});
