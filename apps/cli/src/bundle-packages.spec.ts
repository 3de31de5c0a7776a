import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundlePackages, packageImports, packageNameOf, packageUses } from './bundle-packages';

describe('packageImports', () => {
  it('finds the bare specifiers of imports, exports and requires, not builtins, relative paths or the SDK', () => {
    const source = `import a, { b } from 'zod/v4';
export * from '@scope/x/y';
import './side';
import fs from 'node:fs';
import path from 'path';
import { defineService } from '@laneway/sdk';
const q = require('lodash');
const k = await import('ky');
import type { Options } from 'got';
export type { Thing } from 'types-only';`;
    expect(packageImports(source)).toEqual(['@scope/x/y', 'ky', 'lodash', 'zod/v4']);
    expect(packageNameOf('@scope/x/y')).toBe('@scope/x');
    const uses = packageUses(
      `import { a, b as c, type T } from 'p';\nimport { d } from 'p';\nimport { e } from 'q';\nimport * as q from 'q';`,
    );
    expect(uses).toEqual(
      new Map<string, unknown>([
        ['p', new Set(['a', 'b', 'd'])],
        ['q', 'all'],
      ]),
    );
    expect(packageNameOf('date-fns/format')).toBe('date-fns');
  });
});

describe('bundlePackages', () => {
  it('bundles each package the files import into one CommonJS file named after it, with its installed version', async () => {
    const files = [
      {
        path: 'svc/a.ts',
        content:
          "import { format } from 'date-fns';\nimport { x } from './lib/x';\nimport missing from 'no-such-package-here';",
      },
    ];
    const cwd = path.resolve(__dirname, '../../..');
    const [bundle, ...rest] = await bundlePackages(files, cwd);
    expect(rest).toEqual([]);
    expect(bundle!.path).toBe('node_modules/date-fns.js');
    const { version } = (await import('date-fns/package.json', { with: { type: 'json' } })).default as {
      version: string;
    };
    expect(bundle!.content.split('\n')[0]).toBe(`// date-fns@${version}, bundled by laneway deploy`);
    // It runs alone: nothing left to resolve from node_modules.
    const module = { exports: {} as Record<string, unknown> };
    new Function('module', 'exports', 'require', bundle!.content)(module, module.exports, () => {
      throw new Error('the bundle required something');
    });
    const format = module.exports['format'] as (d: Date, f: string) => string;
    expect(format(new Date(2026, 11, 2), 'yyyy-MM-dd')).toBe('2026-12-02');
    // Only what the files take: not the rest of date-fns.
    expect(module.exports['addDays']).toBeUndefined();
    expect(bundle!.content.length).toBeLessThan(100_000);
    const [whole] = await bundlePackages(
      [{ path: 'svc/b.ts', content: "import * as dateFns from 'date-fns';" }],
      cwd,
    );
    expect(whole!.content.length).toBeGreaterThan(200_000);
  });

  it('gives nothing for files that import no package', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'laneway-bundle-'));
    try {
      await mkdir(path.join(dir, 'svc'));
      await writeFile(path.join(dir, 'svc/a.ts'), '');
      expect(
        await bundlePackages(
          [{ path: 'svc/a.ts', content: "import { defineService } from '@laneway/sdk';\nimport './b';" }],
          dir,
        ),
      ).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
