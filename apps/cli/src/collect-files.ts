import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './errors';

/** One file to deploy: the path as sent to the control plane and its text. */
export interface CollectedFile {
  /** Relative to the working directory, with `/` separators. */
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
  const files = await Promise.all(
    [...found.values()].map(async (absolute) => ({
      path: toRequestPath(cwd, absolute),
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

function toRequestPath(cwd: string, absolute: string): string {
  return path.relative(cwd, absolute).split(path.sep).join('/');
}

export function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}
