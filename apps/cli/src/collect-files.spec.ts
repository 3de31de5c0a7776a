import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectFiles, isDeployableFileName } from './collect-files';
import { CliError } from './errors';

describe('collectFiles on a real directory tree', () => {
  let root: string;

  async function put(relative: string, content = `// ${relative}\n`): Promise<void> {
    const file = path.join(root, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'laneway-cli-collect-'));
    await put('services/hello.ts', 'export const hello = "héllo";\n');
    await put('services/legacy.js');
    await put('services/esm.mts');
    await put('services/common.cts');
    await put('services/esm.mjs');
    await put('services/common.cjs');
    await put('services/nested/deep/resize.ts');
    await put('services/types.d.ts');
    await put('services/types.d.mts');
    await put('services/hello.spec.ts');
    await put('services/hello.test.ts');
    await put('services/legacy.test.js');
    await put('services/README.md');
    await put('services/data.json', '{}');
    await put('services/node_modules/dep/index.js');
    await put('services/nested/node_modules/dep/index.ts');
    await put('services/empty/.gitkeep');
    await put('other/extra.ts');
    await put('notes.txt', 'not code');
    await symlink(path.join(root, 'services'), path.join(root, 'services/nested/loop'));
    await symlink(path.join(root, 'other/extra.ts'), path.join(root, 'services/nested/linked.ts'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('walks a directory recursively for source files, skipping node_modules, declarations, tests and linked directories', async () => {
    const files = await collectFiles(['services'], root);
    expect(files.map((f) => f.path)).toEqual([
      'services/common.cjs',
      'services/common.cts',
      'services/esm.mjs',
      'services/esm.mts',
      'services/hello.ts',
      'services/legacy.js',
      'services/nested/deep/resize.ts',
      'services/nested/linked.ts',
    ]);
    expect(files.find((f) => f.path === 'services/hello.ts')?.content).toBe(
      'export const hello = "héllo";\n',
    );
  });

  it('makes paths relative to the working directory', async () => {
    const files = await collectFiles(['.'], path.join(root, 'services/nested'));
    expect(files.map((f) => f.path)).toEqual(['deep/resize.ts', 'linked.ts']);
  });

  it('makes paths of files outside the working directory relative to their common directory, never with ..', async () => {
    const fromOutside = await collectFiles([path.join(root, 'other')], path.join(root, 'services'));
    expect(fromOutside.map((f) => f.path)).toEqual(['extra.ts']);
    const oneFile = await collectFiles([path.join(root, 'services/nested/deep/resize.ts')], path.join(root, 'other'));
    expect(oneFile.map((f) => f.path)).toEqual(['resize.ts']);
    // Some inside, some outside: one base for all (their common directory), so relative imports between them still resolve.
    const mixed = await collectFiles(['extra.ts', '../services/nested/deep'], path.join(root, 'other'));
    expect(mixed.map((f) => f.path)).toEqual(['other/extra.ts', 'services/nested/deep/resize.ts']);
    for (const file of [...fromOutside, ...oneFile, ...mixed]) expect(file.path.split('/')).not.toContain('..');
  });

  it('takes a named file as is, and each file once however often it is reached', async () => {
    const files = await collectFiles(
      ['notes.txt', 'services/hello.ts', 'services', './services/hello.ts'],
      root,
    );
    const paths = files.map((f) => f.path);
    expect(paths).toContain('notes.txt');
    expect(paths.filter((p) => p === 'services/hello.ts')).toHaveLength(1);
    expect(paths).toHaveLength(9);
  });

  it('fails on a path that does not exist', async () => {
    await expect(collectFiles(['missing'], root)).rejects.toThrow(CliError);
    await expect(collectFiles(['missing'], root)).rejects.toThrow(
      "cannot read 'missing': no such file or directory",
    );
  });

  it('fails on a directory without source files', async () => {
    await expect(collectFiles(['services/empty'], root)).rejects.toThrow(
      "no files to deploy in 'services/empty'",
    );
  });
});

describe('isDeployableFileName', () => {
  it.each([
    ['a.ts', true],
    ['a.mts', true],
    ['a.cts', true],
    ['a.js', true],
    ['a.mjs', true],
    ['a.cjs', true],
    ['a.d.ts', false],
    ['a.d.cts', false],
    ['a.spec.ts', false],
    ['a.test.mjs', false],
    ['a.tsx', false],
    ['a.json', false],
    ['spec.ts', true],
  ])('%s -> %s', (name, expected) => {
    expect(isDeployableFileName(name)).toBe(expected);
  });
});
