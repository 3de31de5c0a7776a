import { createHash } from 'node:crypto';
import path from 'node:path';
import { formatModuleSet, type LinkedModule } from '@laneway/runtime';
import { InvalidArgumentError } from '../errors';

/** One compiled file of a deploy, as linking sees it. */
export interface LinkInput {
  path: string;
  code: string;
  /** Its relative `require` specifiers (`./x`, `../y/z.js`), as written. */
  imports: readonly string[];
}

/** A file with relative imports, linked: the module set servers load and its version. */
export interface LinkedFile {
  code: string;
  version: string;
  /** The other deployed files the set holds, sorted. */
  reached: string[];
}

const EXTENSIONS = ['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs'];
// TypeScript's ESM style names the output: `./money.js` for money.ts.
const OUTPUT_TO_SOURCE: Record<string, string[]> = {
  '.js': ['.ts', '.tsx'],
  '.mjs': ['.mts'],
  '.cjs': ['.cts'],
};

// `require("./x")` as swc writes imports (and authors write requires) with a literal specifier.
const RELATIVE_REQUIRE = /\brequire\(\s*(["'])(\.\.?(?:\/[^"'\n]*)?)\1\s*\)/g;
const ANY_REQUIRE = /\brequire\(\s*(["'])([^"'\n]+)\1\s*\)/g;

/** Where the CLI puts a bundled npm package: `node_modules/<specifier>.js`. */
export const PACKAGE_PREFIX = 'node_modules/';

/** Whether a deployed path is a bundled npm package (taken as it is: not compiled, not a service). */
export function isPackagePath(path: string): boolean {
  return path.startsWith(PACKAGE_PREFIX) && path.endsWith('.js');
}

/** The bare specifier a bundled package's path stands for. */
export function packageSpecifierOf(path: string): string {
  return path.slice(PACKAGE_PREFIX.length, -'.js'.length);
}

/**
 * The specifiers compiled code requires that name other deployed files, each once, in order: relative
 * ones, and bare ones among `packages` (the bundled packages of the deploy).
 */
export function relativeImports(code: string, packages: ReadonlySet<string> = new Set()): string[] {
  const found = new Set<string>();
  for (const match of code.matchAll(RELATIVE_REQUIRE)) found.add(match[2]!);
  if (packages.size)
    for (const match of code.matchAll(ANY_REQUIRE)) if (packages.has(match[2]!)) found.add(match[2]!);
  return [...found];
}

/**
 * The deployed path a relative specifier of `from` names, as Node would find it: the exact path, the
 * path with a source extension, a TypeScript source for a `.js`/`.mjs`/`.cjs` name, or an index file.
 */
export function resolveRelative(
  from: string,
  specifier: string,
  paths: ReadonlySet<string>,
): string | undefined {
  if (!specifier.startsWith('.')) {
    const bundled = `${PACKAGE_PREFIX}${specifier}.js`;
    return paths.has(bundled) ? bundled : undefined;
  }
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = [base, ...EXTENSIONS.map((e) => base + e)];
  const ext = path.posix.extname(base);
  for (const source of OUTPUT_TO_SOURCE[ext] ?? []) candidates.push(base.slice(0, -ext.length) + source);
  candidates.push(...EXTENSIONS.map((e) => `${base}/index${e}`));
  return candidates.find((c) => paths.has(c));
}

/**
 * Links the files of one deploy: each file with relative imports gets a module set holding itself and
 * every file it reaches, and a version that changes when any of them changes (so servers reload the
 * dependents of a changed helper). Files without relative imports are not in the result: they keep
 * their own code and version. Fails with INVALID_ARGUMENT naming the importing file and the specifier
 * when an import names no deployed file.
 */
export function linkFiles(files: readonly LinkInput[]): {
  linked: Map<string, LinkedFile>;
  imported: Set<string>;
} {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const paths = new Set(byPath.keys());
  const deps = new Map<string, Record<string, string>>();
  const imported = new Set<string>();
  for (const file of files) {
    const resolved: Record<string, string> = {};
    for (const specifier of file.imports) {
      const target = resolveRelative(file.path, specifier, paths);
      if (target === undefined) {
        throw new InvalidArgumentError(
          'files',
          `${file.path}: imports '${specifier}', which is not among the deployed files: deploy it in the same call (e.g. the whole directory)`,
          { path: file.path, specifier },
        );
      }
      resolved[specifier] = target;
      imported.add(target);
    }
    deps.set(file.path, resolved);
  }
  const reach = (start: string): string[] => {
    const seen = new Set<string>([start]);
    const stack = [start];
    while (stack.length) {
      for (const next of Object.values(deps.get(stack.pop()!)!)) {
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(next);
      }
    }
    return [...seen].sort();
  };
  const own = new Map<string, string>();
  const ownHash = (p: string): string => {
    let h = own.get(p);
    if (h === undefined) {
      h = createHash('sha256')
        .update(p)
        .update('\0')
        .update(byPath.get(p)!.code)
        .update('\0')
        .update(JSON.stringify(deps.get(p)))
        .digest('hex');
      own.set(p, h);
    }
    return h;
  };
  const keyOf = (p: string): string => {
    const hash = createHash('sha256');
    for (const q of reach(p)) hash.update(q === p ? `*${ownHash(q)}` : ownHash(q));
    return hash.digest('hex').slice(0, 24);
  };
  const linked = new Map<string, LinkedFile>();
  for (const file of files) {
    if (!file.imports.length) continue;
    const modules: Record<string, LinkedModule> = {};
    const reached = reach(file.path);
    for (const p of reached)
      modules[p] = { key: p === file.path ? '' : keyOf(p), code: byPath.get(p)!.code, deps: deps.get(p)! };
    const code = formatModuleSet({ entry: file.path, modules });
    linked.set(file.path, {
      code,
      version: createHash('sha256').update(code).digest('hex').slice(0, 20),
      reached: reached.filter((p) => p !== file.path),
    });
  }
  return { linked, imported };
}
