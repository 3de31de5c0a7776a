import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBundledPackages, readConfigBundle } from './config-bundle';
import { CliError } from './errors';

describe('readConfigBundle on real directories', () => {
  let root: string;

  async function put(relative: string, content = `// ${relative}\n`): Promise<void> {
    const file = path.join(root, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'laneway-cli-bundle-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('sends laneway.yaml and the sources, with paths relative to DIR whatever the working directory', async () => {
    await put('prod/laneway.yaml', 'channels: {}\n');
    await put('prod/crm/get-customer.ts', 'export const x = 1;\n');
    await put('prod/crm/lib/helper.js');
    await put('prod/crm/get-customer.spec.ts');
    await put('prod/crm/types.d.ts');
    await put('prod/README.md');
    const files = await readConfigBundle('prod', root);
    expect(files.map((f) => f.path)).toEqual(['laneway.yaml', 'crm/get-customer.ts', 'crm/lib/helper.js']);
    expect(files[0]!.content).toBe('channels: {}\n');
    expect(await readConfigBundle(path.join(root, 'prod'), '/')).toEqual(files);
  });

  it('takes a bundle of laneway.yaml alone (a cluster without services)', async () => {
    await put('laneway.yaml', 'schedules: {}\n');
    expect(await readConfigBundle('.', root)).toEqual([{ path: 'laneway.yaml', content: 'schedules: {}\n' }]);
  });

  it('refuses a directory without laneway.yaml, naming it, and a DIR that is missing or a file', async () => {
    await put('services/a.ts');
    const missingYaml = readConfigBundle('services', root);
    await expect(missingYaml).rejects.toBeInstanceOf(CliError);
    await expect(missingYaml).rejects.toThrow("'services' holds no laneway.yaml");
    await expect(readConfigBundle('nowhere', root)).rejects.toThrow(
      "cannot read 'nowhere': no such file or directory",
    );
    await expect(readConfigBundle('services/a.ts', root)).rejects.toThrow(
      "'services/a.ts' is not a directory",
    );
  });

  it('picks up the packages an export bundled under node_modules, scoped and subpaths too, not installed ones', async () => {
    await put('laneway.yaml', '');
    await put(
      'svc/a.ts',
      "import { format } from 'date-fns';\nimport x from '@acme/util';\nimport y from 'lodash/get';\n",
    );
    await put('node_modules/date-fns.js', '// date-fns@4.1.0, bundled by laneway deploy\n');
    await put('node_modules/@acme/util.js', '// @acme/util\n');
    await put('node_modules/lodash/get.js', '// lodash/get\n');
    await put('node_modules/.package-lock.json', '{}');
    await put('node_modules/.bin/tool.js');
    await put('node_modules/installed/package.json', '{"name":"installed","version":"1.0.0"}');
    await put('node_modules/installed/index.js');
    await put('node_modules/@acme/real/package.json', '{"name":"@acme/real","version":"1.0.0"}');
    await put('node_modules/@acme/real/index.js');
    await put('node_modules/notes.txt', 'not a bundle');
    const packages = await readBundledPackages(root);
    expect(packages.map((f) => f.path)).toEqual([
      'node_modules/@acme/util.js',
      'node_modules/date-fns.js',
      'node_modules/lodash/get.js',
    ]);
    const files = await readConfigBundle('.', root);
    // Already bundled: sent as they are, not bundled again (nor from the project's own date-fns).
    expect(files.map((f) => f.path)).toEqual([
      'laneway.yaml',
      'svc/a.ts',
      'node_modules/@acme/util.js',
      'node_modules/date-fns.js',
      'node_modules/lodash/get.js',
    ]);
    expect(files.find((f) => f.path === 'node_modules/date-fns.js')?.content).toBe(
      '// date-fns@4.1.0, bundled by laneway deploy\n',
    );
  });

  it('bundles an imported package DIR does not hold, resolved from DIR, else from the working directory', async () => {
    await put('bundle/laneway.yaml', '');
    await put(
      'bundle/svc/a.ts',
      "import a from 'near-pkg';\nimport b from 'far-pkg';\nimport c from 'nowhere-pkg';\n",
    );
    await put(
      'bundle/node_modules/near-pkg/package.json',
      '{"name":"near-pkg","version":"1.2.3","main":"index.js"}',
    );
    await put('bundle/node_modules/near-pkg/index.js', 'module.exports = "near";\n');
    await put(
      'project/node_modules/far-pkg/package.json',
      '{"name":"far-pkg","version":"2.0.0","main":"index.js"}',
    );
    await put('project/node_modules/far-pkg/index.js', 'module.exports = "far";\n');
    const files = await readConfigBundle('../bundle', path.join(root, 'project'));
    expect(files.map((f) => f.path)).toEqual([
      'laneway.yaml',
      'svc/a.ts',
      'node_modules/near-pkg.js',
      'node_modules/far-pkg.js',
    ]);
    const near = files.find((f) => f.path === 'node_modules/near-pkg.js')!.content;
    expect(near.split('\n')[0]).toBe('// near-pkg@1.2.3, bundled by laneway deploy');
    expect(near).toContain('"near"');
    expect(files.find((f) => f.path === 'node_modules/far-pkg.js')!.content).toContain('"far"');
  });
});
