// Bundles one app with esbuild: workspace libs (@laneway/*) are inlined through tsconfig paths,
// npm packages stay external (resolved from node_modules at run time). Output: dist/<app root>/.
// Usage: node tools/build/build-app.mjs apps/server
import { build } from 'esbuild';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const projectRoot = process.argv[2];
if (!projectRoot) {
  console.error('usage: build-app.mjs <project root, e.g. apps/server>');
  process.exit(2);
}
const srcDir = path.join(root, projectRoot, 'src');
const outdir = path.join(root, 'dist', projectRoot);
// Extra entry points an app needs beside main.ts (the server's CPU-lane and load-check threads, the
// control plane's compile process).
const extraEntries = { 'apps/server': ['cpu/cpu-worker.ts', 'load/load-check-worker.ts'], 'apps/control-plane': ['deploy/compile-worker.ts'] }[projectRoot] ?? [];
const entryPoints = Object.fromEntries(
  [['main', 'main.ts'], ...extraEntries.map((e) => [path.basename(e, '.ts'), e])].map(([out, file]) => [
    out,
    path.join(srcDir, file),
  ]),
);
for (const file of Object.values(entryPoints)) {
  if (!existsSync(file)) {
    console.error(`missing entry point ${path.relative(root, file)}`);
    process.exit(1);
  }
}

const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@laneway/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const started = performance.now();
const result = await build({
  entryPoints,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  tsconfig: path.join(root, projectRoot, 'tsconfig.json'),
  plugins: [externalPackages],
  logLevel: 'warning',
  // meta.json: the external imports of each output, from which tools/package/package.mjs derives an
  // installable package's dependencies.
  metafile: true,
});
writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));
console.log(`built ${projectRoot} -> ${path.relative(root, outdir)} in ${Math.round(performance.now() - started)} ms`);
