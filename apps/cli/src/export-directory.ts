/**
 * Where `laneway export` writes a bundle: a new or empty directory, or a previous export (it holds
 * laneway.yaml), which is then made to match the new export exactly. Dot-entries (`.git`,
 * `.gitignore`) are neither looked at nor removed.
 */
import { lstat, mkdir, readdir, realpath, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigFile } from '@laneway/proto';
import { CONFIG_FILE_NAME } from './config-bundle';
import { describeFsError } from './collect-files';
import { CliError } from './errors';

/**
 * Why `file` cannot be written under the export directory, or undefined when it can: it must be a
 * relative path with `/` separators that stays inside it (no absolute path, no `..`).
 */
export function exportPathProblem(file: string): string | undefined {
  if (file === '') return 'an empty path';
  if (file.includes('\0')) return 'a path with a NUL character';
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file)) return 'an absolute path';
  if (file.includes('\\')) return 'a path with a backslash (paths are relative, with / separators)';
  const segments = file.split('/');
  if (segments.includes('..')) return 'a path out of the directory (..)';
  if (segments.some((segment) => segment === '' || segment === '.'))
    return 'a path with an empty or . segment';
  return undefined;
}

/**
 * Refuses `root` (shown as `label`) unless it does not exist, is an empty directory (dot-entries
 * aside) or holds laneway.yaml (a previous export).
 */
export async function checkExportDirectory(root: string, label: string): Promise<void> {
  const stats = await stat(root).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read '${label}': ${describeFsError(error)}`, { cause: error });
  });
  if (stats === undefined) return;
  if (!stats.isDirectory()) throw new CliError(`'${label}' exists and is not a directory`);
  const names = (await readdir(root)).filter((name) => !name.startsWith('.'));
  if (names.length === 0 || names.includes(CONFIG_FILE_NAME)) return;
  throw new CliError(
    `'${label}' is not empty and holds no ${CONFIG_FILE_NAME}, so it is not a previous export: ` +
      'give a new or empty directory (-o DIR), or a previous export to replace',
  );
}

/**
 * Writes `files` under `root` (shown as `label`), creating directories; files it held that `files`
 * do not name are removed first, with the directories they leave empty. Answers the removed paths.
 */
export async function writeExport(
  root: string,
  label: string,
  files: readonly ConfigFile[],
): Promise<string[]> {
  for (const file of files) {
    const problem = exportPathProblem(file.path);
    if (problem) {
      // A control plane of today exports such paths (stored by older deploys) under safe names.
      throw new CliError(
        `refusing to write '${file.path}' of the export: ${problem}. The control plane sent it as an older deploy stored it: ` +
          'upgrade the control plane (it exports such files under safe names), or redeploy the service that holds this file from its own directory',
      );
    }
  }
  await checkExportDirectory(root, label);
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  const wanted = new Set(files.map((file) => file.path));
  const stale = (await listFiles(realRoot)).filter((file) => !wanted.has(file));
  for (const file of stale) await removeFile(realRoot, file);
  // Many files at once, each directory checked once: one at a time, with four file-system calls
  // each, an export of 100,000 services took 36 s to write (bench deploy --services-100k).
  const directories = new Map<string, Promise<void>>();
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < files.length) await writeOne(realRoot, label, files[next++]!, directories);
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, files.length) }, writer));
  return stale;
}

/** Files an export writes at once. */
const WRITE_CONCURRENCY = 32;

/** Every file (or link) under `root`, relative with `/` separators, sorted; dot-entries skipped. */
async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(root, prefix), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const relative = `${prefix}${entry.name}`;
    if (entry.isDirectory()) found.push(...(await listFiles(root, `${relative}/`)));
    else found.push(relative);
  }
  return found.sort();
}

/** Removes the file, then its directories up to `root` while they are empty. */
async function removeFile(root: string, file: string): Promise<void> {
  await rm(path.join(root, file), { force: true });
  for (let dir = path.dirname(file); dir !== '.'; dir = path.dirname(dir)) {
    const removed = await rmdir(path.join(root, dir)).then(
      () => true,
      () => false,
    );
    if (!removed) return;
  }
}

/** Writes one file, never through a link out of `root`: a link in its place is replaced by the file. */
async function writeOne(root: string, label: string, file: ConfigFile, directories: Map<string, Promise<void>>): Promise<void> {
  const target = path.join(root, ...file.path.split('/'));
  const where = `'${path.join(label, file.path)}'`;
  try {
    const dir = path.dirname(target);
    let checked = directories.get(dir);
    if (!checked) {
      checked = (async () => {
        await mkdir(dir, { recursive: true });
        const directory = await realpath(dir);
        if (directory !== root && !directory.startsWith(root + path.sep)) {
          throw new CliError(`refusing to write ${where}: its directory is a link out of '${label}'`);
        }
      })();
      directories.set(dir, checked);
    }
    await checked;
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isSymbolicLink()) await unlink(target);
    await writeFile(target, file.content);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot write ${where}: ${describeFsError(error)}`, { cause: error });
  }
}
