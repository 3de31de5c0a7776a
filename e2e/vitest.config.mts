import { defineConfig } from 'vitest/config';

// Each file starts its own processes; on 2 cores, one file at a time keeps timings sane. The one
// exception runs beside that sequence: the schedules file spends its ~50 s waiting for ticks on
// servers that are idle between them, and its assertions count runs, not how fast they come.
const BESIDE = ['src/schedules.e2e.spec.ts'];

export default defineConfig({
  test: {
    root: import.meta.dirname,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    allowOnly: false,
    projects: [
      { extends: true, test: { name: 'e2e', include: ['src/**/*.e2e.spec.ts'], exclude: BESIDE, fileParallelism: false } },
      { extends: true, test: { name: 'e2e-beside', include: BESIDE, fileParallelism: false } },
    ],
  },
});
