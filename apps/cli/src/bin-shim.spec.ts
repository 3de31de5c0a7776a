/**
 * apps/cli/bin/laneway.js, the `laneway` that npm links into node_modules/.bin, run as a real process
 * in a copy of the repository's layout: it must run the built bundle, and say what to do without it.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SHIM = path.resolve(import.meta.dirname, '../bin/laneway.js');

function runFile(file: string, args: string[], cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { cwd, env: { PATH: process.env['PATH'] ?? '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('bin/laneway.js', () => {
  let root = '';
  let linked = '';

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'laneway-bin-'));
    await mkdir(path.join(root, 'apps/cli/bin'), { recursive: true });
    await copyFile(SHIM, path.join(root, 'apps/cli/bin/laneway.js'));
    await chmod(path.join(root, 'apps/cli/bin/laneway.js'), 0o755);
    // As npm links a workspace's bin: node_modules/.bin/laneway -> ../@laneway/cli/bin/laneway.js,
    // with node_modules/@laneway/cli -> ../../apps/cli.
    await mkdir(path.join(root, 'node_modules/.bin'), { recursive: true });
    await mkdir(path.join(root, 'node_modules/@laneway'), { recursive: true });
    await symlink('../../apps/cli', path.join(root, 'node_modules/@laneway/cli'));
    linked = path.join(root, 'node_modules/.bin/laneway');
    await symlink('../@laneway/cli/bin/laneway.js', linked);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('without a build, says to run `npm run build` and exits 1', async () => {
    const result = await runFile(linked, ['--help'], root);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: the laneway CLI is not built (${path.join(root, 'dist/apps/cli/main.js')} does not exist): run \`npm run build\` first, in ${root}\n`,
    );
  });

  it('runs dist/apps/cli/main.js with the arguments, through the .bin symlink, from any directory', async () => {
    await mkdir(path.join(root, 'dist/apps/cli'), { recursive: true });
    await writeFile(
      path.join(root, 'dist/apps/cli/main.js'),
      'process.stdout.write(JSON.stringify(process.argv.slice(2))); process.exitCode = 3;\n',
    );

    const linkedRun = await runFile(linked, ['deploy', 'a b.ts', '--json'], tmpdir());
    expect(linkedRun).toEqual({ code: 3, stdout: '["deploy","a b.ts","--json"]', stderr: '' });

    const direct = await runFile(
      process.execPath,
      [path.join(root, 'apps/cli/bin/laneway.js'), 'status'],
      root,
    );
    expect(direct).toEqual({ code: 3, stdout: '["status"]', stderr: '' });
  });
});
