/**
 * Where `laneway export` writes a bundle: a new or empty directory, or a previous export (it holds
 * laneway.yaml), which is then made to match the new export exactly. Dot-entries (`.git`,
 * `.gitignore`) are neither looked at nor removed.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readdir, realpath, rm, rmdir, stat } from 'node:fs/promises';
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
  const held = await listFiles(realRoot);
  const stale = held.filter((file) => !wanted.has(file));
  for (const file of stale) await removeFile(realRoot, file);
  // Synchronous calls, three a file (open, write, close), each directory checked once: through the
  // promise API (lstat, open, write, close, each a hop to libuv's thread pool), 20,000 files took
  // twice as long, and the pool bought nothing, as creating files in one directory is serial.
  // A file a previous export holds with the same content is left as it is: rewriting it in place
  // costs more than reading it (ext4 flushes a truncated and rewritten file on close).
  const previous = new Set(held);
  const directories = new Set<string>();
  for (const file of files) {
    if (NOFOLLOW !== 0 && previous.has(file.path) && holdsContent(realRoot, file)) continue;
    writeOne(realRoot, label, file, directories);
  }
  return stale;
}

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

/** O_NOFOLLOW where the platform has it: a link in the file's place fails the open (ELOOP). */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW;

/** Writes one file, never through a link out of `root`: a link in its place is replaced by the file. */
function writeOne(root: string, label: string, file: ConfigFile, directories: Set<string>): void {
  const target = path.join(root, ...file.path.split('/'));
  const where = `'${path.join(label, file.path)}'`;
  const dir = path.dirname(target);
  if (!directories.has(dir)) {
    try {
      mkdirSync(dir, { recursive: true });
      const directory = realpathSync(dir);
      if (directory !== root && !directory.startsWith(root + path.sep)) {
        throw new CliError(`refusing to write ${where}: its directory is a link out of '${label}'`);
      }
    } catch (error) {
      throw writeError(error, where);
    }
    directories.add(dir);
  }
  try {
    if (NOFOLLOW === 0) unlinkIfLink(target);
    let fd: number;
    try {
      fd = openSync(target, WRITE_FLAGS, 0o666);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ELOOP') throw error;
      unlinkIfLink(target);
      fd = openSync(target, WRITE_FLAGS, 0o666);
    }
    try {
      writeFileSync(fd, file.content);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw writeError(error, where);
  }
}

/** Whether `root`'s file `file.path` is a plain file holding `file.content` (false when unreadable). */
function holdsContent(root: string, file: ConfigFile): boolean {
  const content = Buffer.from(file.content);
  let fd: number;
  try {
    fd = openSync(path.join(root, ...file.path.split('/')), constants.O_RDONLY | NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size !== content.length) return false;
    const held = Buffer.allocUnsafe(content.length);
    let read = 0;
    while (read < held.length) {
      const n = readSync(fd, held, read, held.length - read, read);
      if (n === 0) return false;
      read += n;
    }
    return held.equals(content);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

function unlinkIfLink(target: string): void {
  if (lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(target);
}

function writeError(error: unknown, where: string): CliError {
  if (error instanceof CliError) return error;
  return new CliError(`cannot write ${where}: ${describeFsError(error)}`, { cause: error });
}
