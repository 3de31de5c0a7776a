import { build } from 'esbuild';
import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';

import type { CompileSettings } from '../config/load-config';

/** Compile settings for a control plane started by a test: one process, the default bounds. */
export const TEST_COMPILE: Readonly<CompileSettings> = Object.freeze({ workers: 1, maxHeapMb: 512, loadTimeoutMs: 2000 });

let built: Promise<string> | undefined;

/**
 * Builds the compile process's entry (deploy/compile-worker.ts), once per test process, and returns
 * its path. The built app has it beside main.js; tests run from source. It is written under
 * node_modules/.cache so that its external packages (@swc/core) resolve from there.
 */
export function compileWorkerBundle(): Promise<string> {
  built ??= (async () => {
    const cache = path.join(__dirname, '../../../../node_modules/.cache/laneway-tests');
    mkdirSync(cache, { recursive: true });
    const outfile = path.join(mkdtempSync(path.join(cache, 'compile-worker-')), 'compile-worker.js');
    await build({
      entryPoints: [path.join(__dirname, '../deploy/compile-worker.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      tsconfig: path.join(__dirname, '../../tsconfig.json'),
      packages: 'external',
      // `packages: 'external'` would also leave the workspace libs out.
      alias: {
        '@laneway/sdk': path.join(__dirname, '../../../../libs/sdk/src/index.ts'),
        '@laneway/runtime': path.join(__dirname, '../../../../libs/runtime/src/index.ts'),
      },
      logLevel: 'silent',
    });
    return outfile;
  })();
  return built;
}
