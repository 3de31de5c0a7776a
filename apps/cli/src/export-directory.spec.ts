import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from './errors';
import { checkExportDirectory, exportPathProblem, writeExport } from './export-directory';

describe('exportPathProblem', () => {
  it('takes relative paths with / separators that stay inside the directory', () => {
    for (const ok of ['laneway.yaml', 'crm/get-customer.ts', 'node_modules/@scope/pkg.js', 'a/..b/c..ts']) {
      expect(exportPathProblem(ok), ok).toBeUndefined();
    }
  });

  it('refuses absolute paths, .. segments and paths that are not plain relative ones', () => {
    for (const bad of [
      '',
      '/etc/passwd',
      'C:/x.ts',
      'c:x.ts',
      '..',
      '../outside.ts',
      'a/../../outside.ts',
      'a/..',
      'a\\..\\b.ts',
      'a//b.ts',
      './a.ts',
      'a/',
      'a\0b',
    ]) {
      expect(exportPathProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
  });
});

describe('writeExport on real directories', () => {
  let root: string;
  const at = (...parts: string[]): string => path.join(root, ...parts);

  async function put(relative: string, content = `// ${relative}\n`): Promise<void> {
    await mkdir(path.dirname(at(relative)), { recursive: true });
    await writeFile(at(relative), content);
  }

  /** Every file under `dir`, relative, sorted (dot-entries included). */
  async function tree(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => !e.isDirectory())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'laneway-cli-export-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the directory and writes every file, with their directories', async () => {
    const removed = await writeExport(at('out/prod'), './out/prod', [
      { path: 'laneway.yaml', content: 'channels: {}\n' },
      { path: 'crm/get-customer.ts', content: 'export const x = 1;\n' },
      { path: 'node_modules/@scope/pkg.js', content: '// pkg\n' },
    ]);
    expect(removed).toEqual([]);
    expect(await tree(at('out/prod'))).toEqual([
      'crm/get-customer.ts',
      'laneway.yaml',
      'node_modules/@scope/pkg.js',
    ]);
    expect(await readFile(at('out/prod/crm/get-customer.ts'), 'utf8')).toBe('export const x = 1;\n');
  });

  it('replaces a previous export exactly: stale files and the directories they empty go, dot-entries stay', async () => {
    await put('prod/laneway.yaml', 'old\n');
    await put('prod/crm/old.ts');
    await put('prod/crm/keep.ts', 'old keep\n');
    await put('prod/gone/deep/x.ts');
    await put('prod/.git/HEAD', 'ref: refs/heads/main\n');
    await put('prod/.gitignore', '*.key\n');
    const removed = await writeExport(at('prod'), 'prod', [
      { path: 'laneway.yaml', content: 'new\n' },
      { path: 'crm/keep.ts', content: 'new keep\n' },
      { path: 'crm/new.ts', content: 'new\n' },
    ]);
    expect(removed).toEqual(['crm/old.ts', 'gone/deep/x.ts']);
    expect(await tree(at('prod'))).toEqual([
      '.git/HEAD',
      '.gitignore',
      'crm/keep.ts',
      'crm/new.ts',
      'laneway.yaml',
    ]);
    expect(await readFile(at('prod/crm/keep.ts'), 'utf8')).toBe('new keep\n');
    await expect(lstat(at('prod/gone'))).rejects.toThrow();
  });

  it('leaves a file of a previous export that holds the same content as it is, and rewrites one that differs', async () => {
    await put('prod/laneway.yaml', 'same\n');
    await put('prod/crm/same.ts', 'export const x = 1;\n');
    await put('prod/crm/longer.ts', 'old\n');
    await put('prod/crm/shorter.ts', 'old and long\n');
    await put('prod/crm/sized.ts', 'abc\n');
    const before = await lstat(at('prod/crm/same.ts'), { bigint: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeExport(at('prod'), 'prod', [
      { path: 'laneway.yaml', content: 'same\n' },
      { path: 'crm/same.ts', content: 'export const x = 1;\n' },
      { path: 'crm/longer.ts', content: 'new and longer\n' },
      { path: 'crm/shorter.ts', content: 'new\n' },
      { path: 'crm/sized.ts', content: 'xyz\n' },
    ]);
    expect((await lstat(at('prod/crm/same.ts'), { bigint: true })).mtimeNs).toBe(before.mtimeNs);
    expect(await readFile(at('prod/crm/same.ts'), 'utf8')).toBe('export const x = 1;\n');
    expect(await readFile(at('prod/crm/longer.ts'), 'utf8')).toBe('new and longer\n');
    expect(await readFile(at('prod/crm/shorter.ts'), 'utf8')).toBe('new\n');
    expect(await readFile(at('prod/crm/sized.ts'), 'utf8')).toBe('xyz\n');
  });

  it('writes into an empty directory (dot-entries aside) and refuses a non-empty one that is not an export', async () => {
    await put('repo/.git/HEAD');
    expect(await writeExport(at('repo'), 'repo', [{ path: 'laneway.yaml', content: '' }])).toEqual([]);

    await put('project/src/app.ts');
    const refused = writeExport(at('project'), 'project', [{ path: 'laneway.yaml', content: '' }]);
    await expect(refused).rejects.toBeInstanceOf(CliError);
    await expect(refused).rejects.toThrow("'project' is not empty and holds no laneway.yaml");
    await expect(checkExportDirectory(at('project'), 'project')).rejects.toThrow('not a previous export');
    expect(await tree(at('project'))).toEqual(['src/app.ts']);

    await put('file.txt');
    await expect(checkExportDirectory(at('file.txt'), 'file.txt')).rejects.toThrow(
      "'file.txt' exists and is not a directory",
    );
  });

  it('refuses a path that escapes the directory before touching anything', async () => {
    await put('prod/laneway.yaml', 'old\n');
    await put('prod/old.ts');
    for (const bad of ['../escaped.ts', '/tmp/escaped.ts', 'a/../../escaped.ts']) {
      const refused = writeExport(at('prod'), 'prod', [
        { path: 'laneway.yaml', content: 'new\n' },
        { path: bad, content: 'x' },
      ]);
      await expect(refused).rejects.toThrow(`refusing to write '${bad}' of the export`);
      await expect(refused).rejects.toThrow('upgrade the control plane (it exports such files under safe names), or redeploy the service');
    }
    expect(await tree(at('prod'))).toEqual(['laneway.yaml', 'old.ts']);
    expect(await readFile(at('prod/laneway.yaml'), 'utf8')).toBe('old\n');
    expect(await tree(root)).toEqual(['prod/laneway.yaml', 'prod/old.ts']);
  });

  it('never writes through a link out of the directory', async () => {
    await put('outside/secret.ts', 'outside\n');
    await put('prod/laneway.yaml');
    // A link the export does not name is removed like any stale file; the export's file is written in its place.
    await symlink(at('outside'), at('prod/linked'));
    expect(
      await writeExport(at('prod'), 'prod', [
        { path: 'laneway.yaml', content: '' },
        { path: 'linked/secret.ts', content: 'mine\n' },
      ]),
    ).toEqual(['linked']);
    expect((await lstat(at('prod/linked'))).isDirectory()).toBe(true);
    expect(await readFile(at('prod/linked/secret.ts'), 'utf8')).toBe('mine\n');
    expect(await readFile(at('outside/secret.ts'), 'utf8')).toBe('outside\n');

    // Dot-entries are left alone, so a linked dot-directory stays, and is not written through.
    await symlink(at('outside'), at('prod/.linked'));
    await expect(
      writeExport(at('prod'), 'prod', [
        { path: 'laneway.yaml', content: '' },
        { path: '.linked/secret.ts', content: 'overwritten\n' },
      ]),
    ).rejects.toThrow("refusing to write 'prod/.linked/secret.ts': its directory is a link out of 'prod'");
    expect(await readFile(at('outside/secret.ts'), 'utf8')).toBe('outside\n');

    // A linked file in the export's place is replaced, its target untouched.
    await symlink(at('outside/secret.ts'), at('prod/file-link.ts'));
    await writeExport(at('prod'), 'prod', [
      { path: 'laneway.yaml', content: '' },
      { path: 'file-link.ts', content: 'mine\n' },
    ]);
    expect(await readFile(at('outside/secret.ts'), 'utf8')).toBe('outside\n');
    expect((await lstat(at('prod/file-link.ts'))).isSymbolicLink()).toBe(false);
    expect(await readFile(at('prod/file-link.ts'), 'utf8')).toBe('mine\n');
  });
});
