import { describe, expect, it } from "vitest";
import { compileGlob, globToPattern, touchesWatched } from "../../builder/watch-plan.js";

describe("watch globs", () => {
  it("matches like the usual globs", () => {
    const m = (glob: string, path: string) => compileGlob(glob).matches(path);
    expect(m("services/shop/**", "services/shop/src/a.ts")).toBe(true);
    expect(m("services/shop/**", "services/shop")).toBe(true);
    expect(m("services/shop/**", "services/shopping/a.ts")).toBe(false);
    expect(m("libs/*.ts", "libs/a.ts")).toBe(true);
    expect(m("libs/*.ts", "libs/x/a.ts")).toBe(false);
    expect(m("**/*.md", "README.md")).toBe(true);
    expect(m("**/*.md", "docs/a/b.md")).toBe(true);
    expect(m("Dockerfile", "Dockerfile")).toBe(true);
    expect(m("a?c", "abc")).toBe(true);
    expect(m("a.c", "abc")).toBe(false);
    expect(m("a+(b)|c", "a+(b)|c")).toBe(true);
    expect(m("**", "a\nb/c")).toBe(true);
  });

  it("compiles to an RE2 pattern with every other character literal", () => {
    expect(globToPattern("services/shop/**")).toBe("services/shop(?:/.*)?");
    expect(globToPattern("**/*.md")).toBe("(?:.*/)?[^/]*\\.md");
    expect(globToPattern("a?[b]{c}")).toBe("a[^/]\\[b\\]\\{c\\}");
  });

  it("answers a pathological glob on a long path at once", () => {
    const glob = "**/" + "*a".repeat(20) + "*b";
    const path = "x/" + "a".repeat(5000);
    const started = performance.now();
    expect(compileGlob(glob).matches(path)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("builds when nothing is watched or the changes are unknown, else only for a watched change", () => {
    expect(touchesWatched([], ["x"])).toBe(true);
    expect(touchesWatched(["services/shop/**"], null)).toBe(true);
    expect(touchesWatched(["services/shop/**", "libs/**"], ["docs/readme.md", "libs/util.ts"])).toBe(true);
    expect(touchesWatched(["services/shop/**"], ["services/blog/main.go"])).toBe(false);
    expect(touchesWatched(["services/shop/**"], [])).toBe(false);
  });
});

describe("changedPaths", () => {
  const commit = (added: string[], modified: string[], removed: string[]) => ({ added, modified, removed }) as never;
  it("collects every path the listed commits touched", async () => {
    const { changedPaths } = await import("../../server/push-handler.js");
    expect(changedPaths({ created: false, forced: false, commits: [commit(["b"], ["a"], []), commit([], ["a"], ["c"])] })).toEqual(["a", "b", "c"]);
  });
  it("is unknown for new branches, force pushes and pushes past the payload's 20 commits", async () => {
    const { changedPaths } = await import("../../server/push-handler.js");
    expect(changedPaths({ created: true, forced: false, commits: [commit(["a"], [], [])] })).toBeNull();
    expect(changedPaths({ created: false, forced: true, commits: [commit(["a"], [], [])] })).toBeNull();
    expect(changedPaths({ created: false, forced: false, commits: Array.from({ length: 20 }, () => commit(["a"], [], [])) })).toBeNull();
  });
});
