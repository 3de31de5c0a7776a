import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['src/**/*.e2e.spec.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    allowOnly: false,
    // Each file starts its own processes; on 2 cores, one file at a time keeps timings sane.
    fileParallelism: false,
  },
});
