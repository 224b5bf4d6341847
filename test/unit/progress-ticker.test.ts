import { describe, expect, it } from "vitest";
import { ProgressTicker, currentStep } from "../../builder/progress-ticker.js";
import type { ProgressSnapshot } from "../../github/deployment-reporter.js";

describe("currentStep", () => {
  it("reads the latest classic-builder step", () => {
    const log = "Step 1/4 : FROM busybox\n ---> 1a2b\nStep 2/4 : RUN make -j2\n ---> Running in 3c4d\ncc -o app main.c\n";
    expect(currentStep(log)).toBe("step 2/4: RUN make -j2");
  });

  it("reads BuildKit steps with and without a stage name", () => {
    expect(currentStep("#5 [1/3] FROM docker.io/library/busybox\n#6 [build 2/3] RUN make\n#6 0.2 cc main.c\n")).toBe("step 2/3 (build): RUN make");
    expect(currentStep("#4 [internal] load build context\n#7 [3/3] COPY . /app\n")).toBe("step 3/3: COPY . /app");
  });

  it("reads the buildpacks lifecycle phase, whichever came last", () => {
    expect(currentStep("===> DETECTING\n[detector] paketo-buildpacks/node-engine 1.2.3\n===> BUILDING\n[builder] npm ci\n")).toBe("buildpacks: building");
    expect(currentStep("[analyzer] ===> ANALYZING\n")).toBe("buildpacks: analyzing");
  });

  it("has nothing to say before the first step, and cuts a long one", () => {
    expect(currentStep("==> 12:00:00.000 fetching o/r at abc\n")).toBeUndefined();
    const step = currentStep(`Step 1/1 : RUN ${"x".repeat(200)}\n`)!;
    expect(step).toHaveLength(100);
    expect(step.endsWith("…")).toBe(true);
  });
});

describe("ProgressTicker", () => {
  it("reports only when the log moved, with the step and the last lines", () => {
    let log = "";
    const seen: ProgressSnapshot[] = [];
    const ticker = new ProgressTicker(1000, () => log, (p) => seen.push(p), 2);
    ticker.tick();
    expect(seen).toHaveLength(0); // nothing written yet
    log = "Step 1/2 : FROM busybox\nStep 2/2 : RUN echo a && echo b\na\nb\n";
    ticker.tick();
    ticker.tick(); // unchanged: no second request
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ step: "step 2/2: RUN echo a && echo b", tail: "a\nb" });
    log += "c\n";
    ticker.tick();
    expect(seen.map((p) => p.tail)).toEqual(["a\nb", "b\nc"]);
  });
});
