/**
 * A configuration bundle as `laneway diff` and `laneway apply` send it: a directory holding
 * `laneway.yaml` and the services' sources, as `laneway export` writes it.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { bundlePackages, PACKAGE_DIRECTORY } from './bundle-packages';
import { collectFiles, describeFsError } from './collect-files';
import type { CollectedFile } from './collect-files';
import { CliError } from './errors';

/** The bundle's resources (security definitions, connections, channels, schedules); every bundle has one. */
export const CONFIG_FILE_NAME = 'laneway.yaml';

/**
 * The files of the bundle in `dir` (relative to `cwd`), with paths relative to `dir`: laneway.yaml;
 * every deployable source file (as `deploy` finds them: no node_modules, declarations or tests); the
 * npm packages an export bundled (`node_modules/<specifier>.js`); and, bundled now as `deploy` does,
 * the packages the sources import that the directory does not hold, resolved from `dir`, else `cwd`.
 */
export async function readConfigBundle(dir: string, cwd: string): Promise<CollectedFile[]> {
  const root = path.resolve(cwd, dir);
  const config = await readConfigFile(root, dir);
  const sources = await collectFiles(['.'], root, { allowEmpty: true });
  const bundled = await readBundledPackages(root);
  const present = new Set(bundled.map((file) => specifierOf(file.path)));
  const added = await bundleMissingPackages(sources, present, [root, path.resolve(cwd)]);
  return [config, ...sources, ...bundled, ...added];
}

/** laneway.yaml, or a CliError naming what is wrong with `dir`. */
async function readConfigFile(root: string, dir: string): Promise<CollectedFile> {
  const stats = await stat(root).catch((error: unknown) => {
    throw new CliError(`cannot read '${dir}': ${describeFsError(error)}`, { cause: error });
  });
  if (!stats.isDirectory()) throw new CliError(`'${dir}' is not a directory`);
  try {
    return { path: CONFIG_FILE_NAME, content: await readFile(path.join(root, CONFIG_FILE_NAME), 'utf8') };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') {
      throw new CliError(
        `'${dir}' holds no ${CONFIG_FILE_NAME}: give a directory written by 'laneway export'`,
        { cause: error },
      );
    }
    throw new CliError(`cannot read '${path.join(dir, CONFIG_FILE_NAME)}': ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

/** `date-fns` of `node_modules/date-fns.js`, `@scope/pkg/sub` of `node_modules/@scope/pkg/sub.js`. */
function specifierOf(packagePath: string): string {
  return packagePath.slice(PACKAGE_DIRECTORY.length, -'.js'.length);
}

/**
 * The `.js` files under `root/node_modules`, each a package bundled by an earlier deploy or export:
 * `node_modules/<pkg>.js`, `node_modules/@scope/<pkg>.js`, `node_modules/<pkg>/<subpath>.js`. A
 * directory with a package.json is a package npm installed, not a bundle, and is skipped, as are
 * dot-entries (`.bin`, `.package-lock.json`).
 */
export async function readBundledPackages(root: string): Promise<CollectedFile[]> {
  const paths: string[] = [];
  await findBundledPackages(path.join(root, 'node_modules'), PACKAGE_DIRECTORY, paths);
  const files = await Promise.all(
    paths.sort().map(async (relative) => ({
      path: relative,
      content: await readFile(path.join(root, relative), 'utf8'),
    })),
  );
  return files;
}

async function findBundledPackages(directory: string, prefix: string, found: string[]): Promise<void> {
  const entries = await readDirectory(directory);
  const isTop = prefix === PACKAGE_DIRECTORY;
  if (!isTop && entries.some((entry) => entry.name === 'package.json')) return;
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) {
      await findBundledPackages(path.join(directory, entry.name), `${prefix}${entry.name}/`, found);
    } else if (entry.isFile() && entry.name.endsWith('.js')) {
      found.push(`${prefix}${entry.name}`);
    }
  }
}

/** The directory's entries; none when it does not exist. */
async function readDirectory(directory: string): Promise<Dirent[]> {
  try {
    return await readdir(directory, { withFileTypes: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new CliError(`cannot read '${directory}': ${describeFsError(error)}`, { cause: error });
  }
}

/** The packages `sources` import that are not `present`, bundled from the first of `roots` resolving each. */
async function bundleMissingPackages(
  sources: readonly CollectedFile[],
  present: ReadonlySet<string>,
  roots: readonly string[],
): Promise<CollectedFile[]> {
  const added: CollectedFile[] = [];
  for (const root of new Set(roots)) {
    const skip = new Set([...present, ...added.map((file) => specifierOf(file.path))]);
    added.push(...(await bundlePackages(sources, root, skip)));
  }
  return added;
}
