import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './errors';

/** One file to deploy: the path as sent to the control plane and its text. */
export interface CollectedFile {
  /**
   * Relative, with `/` separators and never a `..` segment: to the working directory when every file
   * is under it, else to the files' common directory (see {@link requestBase}).
   */
  readonly path: string;
  readonly content: string;
}

const SOURCE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
const SKIPPED_DIRECTORIES = new Set(['node_modules']);

/** Whether a directory walk picks up this file name: sources, minus declarations and tests. */
export function isDeployableFileName(name: string): boolean {
  if (!SOURCE_EXTENSIONS.some((ext) => name.endsWith(ext))) return false;
  if (/\.d\.[mc]?ts$/.test(name)) return false;
  if (/\.(spec|test)\.[mc]?[jt]s$/.test(name)) return false;
  return true;
}

/**
 * The files to deploy for the PATH arguments of `laneway deploy`. A file argument is taken as is; a
 * directory is walked recursively for .ts/.mts/.cts/.js/.mjs/.cjs files, skipping node_modules,
 * declaration files (*.d.ts), tests (*.spec.ts, *.test.ts and their .js forms) and symbolic links
 * to directories. The result is sorted by path, with each file once. A directory without such files
 * is refused unless `options.allowEmpty` (a configuration bundle may hold no services).
 */
export async function collectFiles(
  paths: readonly string[],
  cwd: string,
  options: { readonly allowEmpty?: boolean } = {},
): Promise<CollectedFile[]> {
  const found = new Map<string, string>(); // real path -> absolute path as reached
  for (const arg of paths) {
    const absolute = path.resolve(cwd, arg);
    const stats = await stat(absolute).catch((error: unknown) => {
      throw new CliError(`cannot read '${arg}': ${describeFsError(error)}`, { cause: error });
    });
    if (stats.isDirectory()) {
      const before = found.size;
      await walk(absolute, found);
      if (found.size === before && options.allowEmpty !== true) {
        throw new CliError(
          `no files to deploy in '${arg}' (looked for ${SOURCE_EXTENSIONS.map((e) => `*${e}`).join(', ')})`,
        );
      }
    } else if (stats.isFile()) {
      found.set(await realpath(absolute), absolute);
    } else {
      throw new CliError(`'${arg}' is neither a file nor a directory`);
    }
  }
  const base = requestBase(cwd, [...found.values()]);
  const files = await Promise.all(
    [...found.values()].map(async (absolute) => ({
      path: toRequestPath(base, absolute),
      content: await readFile(absolute, 'utf8'),
    })),
  );
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Symbolic links to files are followed; symbolic links to directories are not (no loops, no repeats). */
async function walk(directory: string, found: Map<string, string>): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true });
  for (const entry of entries) {
    const absolute = path.join(directory, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) await walk(absolute, found);
      continue;
    }
    if (!isDeployableFileName(entry.name)) continue;
    const isFile =
      entry.isFile() ||
      (entry.isSymbolicLink() && ((await stat(absolute).catch(() => undefined))?.isFile() ?? false));
    if (!isFile) continue;
    const key = await realpath(absolute);
    if (!found.has(key)) found.set(key, absolute);
  }
}

/**
 * What the files' paths are relative to: the working directory when every file is under it (the
 * paths a deploy has always sent), else the files' deepest common directory, so that no path climbs
 * out with `..` (`deploy /tmp/x/a.ts` from a repository sends `a.ts`, not `../../tmp/x/a.ts`, which
 * an export could not write). One base for all files keeps their relative imports resolving.
 */
export function requestBase(cwd: string, absolutePaths: readonly string[]): string {
  const inside = (file: string): boolean => {
    const relative = path.relative(cwd, file);
    return relative !== '' && !relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative);
  };
  if (absolutePaths.every(inside)) return cwd;
  const [first, ...rest] = absolutePaths.map((file) => path.dirname(file).split(path.sep));
  if (first === undefined) return cwd;
  let shared = first.length;
  for (const segments of rest) {
    let i = 0;
    while (i < shared && i < segments.length && segments[i] === first[i]) i++;
    shared = i;
  }
  // On POSIX the first segment of an absolute path is '' (the root): keep at least it.
  return first.slice(0, Math.max(shared, 1)).join(path.sep) || path.sep;
}

function toRequestPath(base: string, absolute: string): string {
  return path.relative(base, absolute).split(path.sep).join('/');
}

export function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}
