import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import type { CollectedFile } from './collect-files';
import { CliError } from './errors';

/** Where a bundled package travels in a deploy: servers resolve a bare `require(x)` to this path. */
export const PACKAGE_DIRECTORY = 'node_modules/';

// Specifiers of `import … from 'x'`, `import 'x'`, `export … from 'x'`, `import('x')` and `require('x')`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(["'])([^"'\n]+)\1/g;
const TYPE_ONLY = /\b(?:import|export)\s+type\s[^;]*?\bfrom\s*(["'])[^"'\n]+\1/g;
const BUILTIN = new Set(builtinModules);
// Provided by every server.
const PROVIDED = new Set(['@laneway/sdk']);

// `import { a, b as c } from 'x'` (and nothing else on the statement): the names it takes.
const NAMED_IMPORT = /\bimport\s*\{([^}]*)\}\s*from\s*(["'])([^"'\n]+)\2/g;

/** The npm packages (bare specifiers, subpaths kept) a source file imports, each once, sorted. */
export function packageImports(source: string): string[] {
  return [...packageUses(source).keys()].sort();
}

/**
 * What a source file takes from each npm package it imports: the names, when every import of it is
 * `import { names } from 'x'`, or `'all'` (a default or namespace import, a re-export, `require`...).
 */
export function packageUses(source: string): Map<string, Set<string> | 'all'> {
  const uses = new Map<string, Set<string> | 'all'>();
  // Type-only imports and exports leave nothing to load.
  const code = source.replace(TYPE_ONLY, '');
  const named = new Map<number, string[]>();
  for (const match of code.matchAll(NAMED_IMPORT)) {
    const names = match[1]!
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n && !/^type\s/.test(n))
      .map((n) => n.split(/\s+as\s+/)[0]!.trim());
    // Keyed by where its `from` is, where SPECIFIER matches the same statement.
    named.set(match.index + match[0].lastIndexOf('from'), names);
  }
  for (const match of code.matchAll(SPECIFIER)) {
    const specifier = match[2]!;
    if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) continue;
    if (BUILTIN.has(specifier) || BUILTIN.has(specifier.split('/')[0]!) || PROVIDED.has(specifier)) continue;
    const names = named.get(match.index);
    const known = uses.get(specifier);
    if (!names || known === 'all') uses.set(specifier, 'all');
    else uses.set(specifier, new Set([...(known ?? []), ...names]));
  }
  return uses;
}

/** `date-fns` of `date-fns/format`, `@scope/pkg` of `@scope/pkg/sub`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * One extra file per npm package the deployed files import: the package as installed in the project
 * (its version as the lockfile pinned it, named in the file's first line), bundled with esbuild into
 * one CommonJS file at `node_modules/<specifier>.js`, so that every server has it without installing
 * anything. A specifier the project cannot resolve is left alone (servers resolve it as before), and
 * so is one in `skip` (already bundled). esbuild is loaded only when some file imports a package.
 */
export async function bundlePackages(
  files: readonly CollectedFile[],
  cwd: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<CollectedFile[]> {
  // Only the names the files take, when that is all they take: a much smaller bundle (date-fns:
  // `format` alone is about 48 KB, the whole package 385 KB).
  const uses = new Map<string, Set<string> | 'all'>();
  for (const file of files) {
    for (const [specifier, names] of packageUses(file.content)) {
      const known = uses.get(specifier);
      uses.set(specifier, names === 'all' || known === 'all' ? 'all' : new Set([...(known ?? []), ...names]));
    }
  }
  const specifiers = [...uses.keys()].filter((s) => !skip.has(s)).sort();
  if (!specifiers.length) return [];
  const projectRequire = createRequire(path.join(cwd, 'noop.js'));
  const resolvable = specifiers.filter((s) => {
    try {
      projectRequire.resolve(s);
      return true;
    } catch {
      return false;
    }
  });
  if (!resolvable.length) return [];
  const { build } = await import('esbuild');
  return Promise.all(
    resolvable.map(async (specifier) => {
      const name = packageNameOf(specifier);
      let text: string;
      try {
        const result = await build({
          stdin: { contents: entryOf(specifier, uses.get(specifier)!), resolveDir: cwd, loader: 'js' },
          // For named imports, the ESM build when the package has one, so that unused names are left
          // out; otherwise what Node's require would load.
          ...(uses.get(specifier) === 'all' ? {} : { mainFields: ['module', 'main'] }),
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target: 'node20',
          write: false,
          logLevel: 'silent',
          legalComments: 'none',
        });
        text = result.outputFiles[0]!.text;
      } catch (error) {
        throw new CliError(
          `cannot bundle the package '${specifier}' the services import: ${(error as Error).message}`,
          { cause: error },
        );
      }
      const version = installedVersion(projectRequire.resolve(specifier), name) ?? 'unknown';
      return {
        path: `${PACKAGE_DIRECTORY}${specifier}.js`,
        content: `// ${name}@${version}, bundled by laneway deploy\n${text}`,
      };
    }),
  );
}

function entryOf(specifier: string, names: Set<string> | 'all'): string {
  const quoted = JSON.stringify(specifier);
  if (names === 'all' || !names.size) return `module.exports = require(${quoted});`;
  return `export { ${[...names].sort().join(', ')} } from ${quoted};`;
}

/** The version in the package.json of `name` above its resolved entry file (what npm installed from the lockfile). */
function installedVersion(resolved: string, name: string): string | undefined {
  for (let dir = path.dirname(resolved); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === name) return pkg.version;
    } catch {
      // no package.json here
    }
  }
  return undefined;
}
