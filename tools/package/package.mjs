// Turns one built app (dist/apps/<app>, from tools/build/build-app.mjs) into a tarball a host installs
// with `npm install <tarball>`, no repository needed: the bundle, a bin script, and a package.json
// whose dependencies are exactly the npm packages the bundle requires at run time (esbuild's metafile
// lists them; workspace libs are inlined), pinned to the versions of the root package-lock.json.
// Their own dependencies resolve within their ranges at install time: npm honours neither the root's
// overrides nor a shrinkwrap in a package installed from a tarball.
// Usage: node tools/package/package.mjs apps/server [--out DIR]   (default DIR: dist/packages)
// `npm run package` runs it for the three apps through Nx, after their builds.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

/** Per app: the package's name and the command it installs. */
const APPS = {
  'apps/server': { name: 'laneway-server', bin: 'laneway-server', description: 'Laneway data-plane server' },
  'apps/control-plane': { name: 'laneway-control-plane', bin: 'laneway-control-plane', description: 'Laneway control plane' },
  'apps/cli': { name: 'laneway-cli', bin: 'laneway', description: 'Laneway command-line interface' },
};

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let projectRoot;
let outDir = path.join(root, 'dist', 'packages');
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') {
    if (!args[i + 1]) fail('--out needs a directory');
    outDir = path.resolve(args[++i]);
  } else if (!projectRoot) projectRoot = args[i].replace(/\/+$/, '');
  else fail(`unexpected argument ${JSON.stringify(args[i])}`);
}
const app = APPS[projectRoot];
if (!app) fail(`usage: package.mjs <${Object.keys(APPS).join('|')}> [--out DIR]; got ${JSON.stringify(projectRoot ?? '')}`);

const bundleDir = path.join(root, 'dist', projectRoot);
const metaFile = path.join(bundleDir, 'meta.json');
if (!existsSync(metaFile)) fail(`${path.relative(root, metaFile)} does not exist: build first (node tools/build/build-app.mjs ${projectRoot})`);

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
const packageName = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
const builtins = new Set(builtinModules);

const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const rootManifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

const dependencies = {};
for (const [output, { imports }] of Object.entries(meta.outputs)) {
  for (const { path: specifier, external } of imports) {
    if (!external || specifier.startsWith('node:') || builtins.has(packageName(specifier))) continue;
    const name = packageName(specifier);
    if (name.startsWith('@laneway/')) fail(`${output} requires ${specifier}: workspace libs must be bundled, not external`);
    const version = lock.packages?.[`node_modules/${name}`]?.version;
    if (!version) fail(`${output} requires ${specifier}, but package-lock.json has no node_modules/${name}: add ${name} to the root package.json`);
    dependencies[name] = version;
  }
}

// The package's own directory: the bundle (every .js and its source map), a bin script, package.json.
mkdirSync(outDir, { recursive: true });
const staging = mkdtempSync(path.join(outDir, `.${app.name}-`));
try {
  for (const file of readdirSync(bundleDir)) {
    if (file.endsWith('.js') || file.endsWith('.js.map')) cpSync(path.join(bundleDir, file), path.join(staging, file));
  }
  mkdirSync(path.join(staging, 'bin'));
  const binFile = path.join(staging, 'bin', `${app.bin}.js`);
  writeFileSync(binFile, `#!/usr/bin/env node\n'use strict';\n// ${app.description}; configured by environment variables (see the README).\nrequire('../main.js');\n`);
  chmodSync(binFile, 0o755);
  const manifest = {
    name: app.name,
    version: rootManifest.version,
    description: app.description,
    license: rootManifest.license,
    private: true,
    engines: rootManifest.engines,
    bin: { [app.bin]: `bin/${app.bin}.js` },
    main: 'main.js',
    dependencies: Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b))),
  };
  writeFileSync(path.join(staging, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], { cwd: staging, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const tarball = path.join(outDir, packed[0].filename);
  console.log(`packaged ${projectRoot} -> ${path.relative(process.cwd(), tarball)} (${Object.keys(dependencies).length} dependencies)`);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
