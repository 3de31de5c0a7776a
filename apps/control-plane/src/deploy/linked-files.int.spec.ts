import pino from 'pino';
import { evaluateServiceModules, moduleSetKeys, parseModuleSet, retainSharedModules } from '@laneway/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { compileWorkerBundle } from '../testing/compile-worker-bundle';
import { CompilerPool } from './compiler-pool';
import { relativeImports, resolveRelative } from './link-files';
import { ValidatedFiles } from './validated-files';

const helper = (factor: number) => ({
  path: 'svc/lib/money.ts',
  content: `export const PREFIX: string = 'shop';\nexport function cents(n: number): number { return Math.round(n * ${factor}); }\n`,
});
const service = (path: string, specifier: string, lane = 'network') => ({
  path,
  content: `import { defineService } from '@laneway/sdk';
import { cents, PREFIX } from '${specifier}';
export default defineService({ name: PREFIX + '.' + '${path.replace(/\W/g, '-')}', lane: '${lane}', handle: (i: { n: number }) => cents(i.n) });
`,
});
const plain = {
  path: 'svc/plain.ts',
  content: `import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'plain', handle: () => 1 });\n`,
};

async function invalid(promise: Promise<unknown>): Promise<InvalidArgumentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidArgumentError);
  return err as InvalidArgumentError;
}

describe('resolveRelative', () => {
  const paths = new Set(['a/b.ts', 'a/lib/money.ts', 'a/lib/index.js', 'x.mts', 'a/util.js']);
  it.each([
    ['a/b.ts', './lib/money', 'a/lib/money.ts'],
    ['a/b.ts', './lib/money.ts', 'a/lib/money.ts'],
    ['a/b.ts', './lib/money.js', 'a/lib/money.ts'],
    ['a/b.ts', './lib', 'a/lib/index.js'],
    ['a/b.ts', '../x.mjs', 'x.mts'],
    ['a/lib/money.ts', '../util', 'a/util.js'],
    ['a/lib/money.ts', '..', undefined],
    ['a/b.ts', './nope', undefined],
  ])('from %s, %s is %s', (from, specifier, expected) => {
    expect(resolveRelative(from, specifier, paths)).toBe(expected);
  });
  it('finds relative requires in compiled code, not bare ones', () => {
    expect(
      relativeImports(
        'const a = require("./a");\nconst b = require("../b/c.js");\nrequire("zod");require(\'./a\')',
      ),
    ).toEqual(['./a', '../b/c.js']);
  });
});

describe('ValidatedFiles with relative imports', () => {
  let compiler: CompilerPool;
  beforeAll(async () => {
    compiler = new CompilerPool({
      workerPath: await compileWorkerBundle(),
      size: 1,
      maxHeapMb: 256,
      loadTimeoutMs: 2000,
      logger: pino({ level: 'silent' }),
    });
    await compiler.start();
  });
  afterAll(() => compiler?.close());

  it('inspects a service with the real helper, deploys the helper-only file, and leaves plain files as they were', async () => {
    const cache = new ValidatedFiles(compiler);
    const alone = await cache.validate([plain]);
    const { services } = await cache.validate([
      helper(100),
      service('svc/a.ts', './lib/money'),
      service('svc/b.ts', './lib/money.js', 'cpu'),
      plain,
    ]);
    // The name came from the helper's PREFIX: inspection loaded the helper, not a stand-in.
    expect(services.map((s) => [s.name, s.lane, s.path])).toEqual([
      ['shop.svc-a-ts', 'network', 'svc/a.ts'],
      ['shop.svc-b-ts', 'cpu', 'svc/b.ts'],
      ['plain', 'network', 'svc/plain.ts'],
    ]);
    const plainAgain = services[2]!;
    expect([plainAgain.code, plainAgain.version]).toEqual([
      alone.services[0]!.code,
      alone.services[0]!.version,
    ]);
    const set = parseModuleSet(services[0]!.code)!;
    expect(Object.keys(set.modules).sort()).toEqual(['svc/a.ts', 'svc/lib/money.ts']);
    // Both dependents share the helper's key: a server evaluates it once.
    expect(moduleSetKeys(services[0]!.code)).toEqual(moduleSetKeys(services[1]!.code));
    const outcomes = evaluateServiceModules(
      services.slice(0, 2).map((s) => ({ code: s.code, filename: s.path })),
    );
    const handled = await Promise.all(
      outcomes.map((o) => (o.ok ? o.services[0]!.handle({ n: 1.5 }, {} as never) : o.error.message)),
    );
    expect(handled).toEqual([150, 150]);
    retainSharedModules([]);
  });

  it('changes the version of the dependents (and only theirs) when the helper changes', async () => {
    const cache = new ValidatedFiles(compiler);
    const before = await cache.validate([helper(100), service('svc/a.ts', './lib/money'), plain]);
    const after = await cache.validate([helper(1000), service('svc/a.ts', './lib/money'), plain]);
    expect(after.services[0]!.version).not.toBe(before.services[0]!.version);
    expect(after.services[1]!.version).toBe(before.services[1]!.version);
    expect(moduleSetKeys(after.services[0]!.code)).not.toEqual(moduleSetKeys(before.services[0]!.code));
    // Deploying the same again compiles nothing and gives the same versions.
    const again = await cache.validate([helper(1000), service('svc/a.ts', './lib/money'), plain]);
    expect(again.compiledFiles).toBe(0);
    expect(again.services.map((s) => s.version)).toEqual(after.services.map((s) => s.version));
  });

  it('rejects an import of a file that is not in the deploy, naming the file and the specifier', async () => {
    const cache = new ValidatedFiles(compiler);
    const err = await invalid(cache.validate([service('svc/a.ts', './lib/money')]));
    expect(err.message).toBe(
      "svc/a.ts: imports './lib/money', which is not among the deployed files: deploy it in the same call (e.g. the whole directory)",
    );
    expect(err.details).toMatchObject({ path: 'svc/a.ts', specifier: './lib/money' });
  });

  it('still rejects a file that exports no service when nothing imports it', async () => {
    const cache = new ValidatedFiles(compiler);
    const err = await invalid(cache.validate([helper(100), plain]));
    expect(err.message).toMatch(/^svc\/lib\/money\.ts: exports no service/);
  });

  it('names the helper when its top level throws, and the importing file when a helper it reaches does', async () => {
    const cache = new ValidatedFiles(compiler);
    const err = await invalid(
      cache.validate([
        { path: 'svc/lib/money.ts', content: 'throw new Error("no rates");\nexport const x = 1;' },
        service('svc/a.ts', './lib/money'),
      ]),
    );
    expect(err.message).toBe('svc/lib/money.ts: loading failed: no rates');
    const deeper = await invalid(
      cache.validate([
        { path: 'svc/lib/rates.ts', content: 'throw new Error("no rates");\nexport const x = 1;' },
        {
          path: 'svc/lib/money.ts',
          content:
            "import { x } from './rates';\nexport const PREFIX = 'p';\nexport const cents = (n: number) => n * x;",
        },
        service('svc/a.ts', './lib/money'),
      ]),
    );
    // rates.ts fails on its own first (it imports nothing, so it is inspected alone).
    expect(deeper.message).toBe('svc/lib/rates.ts: loading failed: no rates');
  });

  it('links bare imports to the bundled packages of the deploy, taken as they are, and leaves other bare imports alone', async () => {
    const cache = new ValidatedFiles(compiler);
    const pkg = {
      path: 'node_modules/fake-pkg.js',
      content: '// fake-pkg@1.2.3\nwith ({ n: 7 }) { module.exports = { seven: () => n }; }\n',
    };
    const usesPkg = {
      path: 'svc/p.ts',
      content: `import { defineService } from '@laneway/sdk';\nimport { seven } from 'fake-pkg';\nexport default defineService({ name: 'p' + seven(), handle: () => seven() });\n`,
    };
    const usesZod = {
      path: 'svc/z.ts',
      content: `import { defineService } from '@laneway/sdk';\nimport { z } from 'zod';\nexport default defineService({ name: 'z', handle: () => typeof z });\n`,
    };
    const zodAlone = await new ValidatedFiles(compiler).validate([usesZod]);
    const unused = { path: 'node_modules/unused.js', content: 'module.exports = 1;' };
    const { services } = await cache.validate([pkg, usesPkg, usesZod, unused]);
    // 'p7': inspection ran the real (sloppy-mode) package.
    expect(services.map((s) => s.name)).toEqual(['p7', 'z']);
    expect(Object.keys(parseModuleSet(services[0]!.code)!.modules).sort()).toEqual([
      'node_modules/fake-pkg.js',
      'svc/p.ts',
    ]);
    expect(services[1]!.code).toBe(zodAlone.services[0]!.code);
    const [outcome] = evaluateServiceModules([{ code: services[0]!.code, filename: services[0]!.path }]);
    if (!outcome!.ok) throw outcome!.error;
    expect(await outcome!.services[0]!.handle({}, {} as never)).toBe(7);
    retainSharedModules([]);
  });
});
