import { describe, expect, it } from "vitest";
import { layersToSkip } from "../../releaser/layers-to-skip.js";

const [a, b, c, d] = ["a", "b", "c", "d"].map((x) => `sha256:${x.repeat(64)}`) as [string, string, string, string];

describe("layersToSkip", () => {
  it("skips the bottom layers a release on the target shares, and sends the rest", () => {
    expect(layersToSkip([a, b, c], [[a, b, d]])).toEqual(new Set([a, b]));
    expect(layersToSkip([a, b, c], [[a], [a, b, c, d]])).toEqual(new Set([a, b, c]));
  });

  it("skips nothing the target has only on other parents, or when it has nothing", () => {
    expect(layersToSkip([a, b, c], [[b, c]])).toEqual(new Set());
    expect(layersToSkip([a, b], [])).toEqual(new Set());
  });

  it("sends a layer that recurs where the target lacks its parents, since load reads its file there", () => {
    expect(layersToSkip([a, b, a], [[a, b]])).toEqual(new Set([b]));
  });

});
