import { build } from 'esbuild';
import path from 'node:path';

const repo = path.join(__dirname, '../../../..');

/**
 * Bundles a worker-thread entry of the server (e.g. `cpu/cpu-worker.ts`) to `outfile` for tests:
 * Node 20 cannot load .ts in worker threads, and the app's own bundle may be stale.
 */
export async function buildThreadEntry(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [path.join(__dirname, '..', entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    tsconfig: path.join(__dirname, '../../tsconfig.json'),
    packages: 'external',
    alias: {
      '@laneway/sdk': path.join(repo, 'libs/sdk/src/index.ts'),
      '@laneway/runtime': path.join(repo, 'libs/runtime/src/index.ts'),
      '@laneway/connectors': path.join(repo, 'libs/connectors/src/index.ts'),
    },
    // npm packages stay external, and `outfile` is often in a temporary directory: resolve them from
    // the repository's node_modules.
    banner: { js: `module.paths.unshift(${JSON.stringify(path.join(repo, 'node_modules'))});` },
    logLevel: 'silent',
  });
}
