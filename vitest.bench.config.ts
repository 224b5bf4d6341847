import { defineConfig } from "vitest/config";

// Benchmarks print figures; they are not part of `npm test`.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.test.ts"],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 180_000,
    reporters: ["default"],
  },
});
