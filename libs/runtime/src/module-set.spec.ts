import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateServiceModules } from './evaluate-service-modules';
import { loadServiceModules } from './load-service-module';
import {
  formatModuleSet,
  moduleSetKeys,
  parseModuleSet,
  retainSharedModules,
  sharedModuleCount,
  type LinkedModule,
} from './module-set';

const probe = globalThis as Record<string, unknown>;

const money = (key: string, factor = 100): LinkedModule => ({
  key,
  code: `globalThis.__moneyLoads = (globalThis.__moneyLoads ?? 0) + 1;\nexports.cents = (n) => Math.round(n * ${factor});`,
  deps: {},
});

const serviceUsingMoney = (name: string): LinkedModule => ({
  key: '',
  code: `const { defineService } = require('@laneway/sdk');\nconst m = require('./lib/money');\nexports.default = defineService({ name: '${name}', handle: (i) => m.cents(i.n) });`,
  deps: { './lib/money': 'svc/lib/money.ts' },
});

const setOf = (entry: string, modules: Record<string, LinkedModule>) => formatModuleSet({ entry, modules });

afterEach(() => {
  retainSharedModules([]);
  delete probe['__moneyLoads'];
});

describe('module sets', () => {
  it('round-trips and lists the shared keys on the first line', () => {
    const code = setOf('svc/a.ts', { 'svc/a.ts': serviceUsingMoney('a'), 'svc/lib/money.ts': money('k1') });
    expect(moduleSetKeys(code)).toEqual(['k1']);
    expect(parseModuleSet(code)?.entry).toBe('svc/a.ts');
    expect(parseModuleSet('"use strict";\nexports.x = 1;')).toBeUndefined();
    expect(moduleSetKeys('"use strict";')).toEqual([]);
  });

  it('evaluates a helper once for every service that imports it, and shares the instance', async () => {
    const sources = Array.from({ length: 50 }, (_, i) => ({
      filename: `svc/s${i}.ts`,
      code: setOf(`svc/s${i}.ts`, {
        [`svc/s${i}.ts`]: serviceUsingMoney(`s${i}`),
        'svc/lib/money.ts': money('k1'),
      }),
    }));
    const outcomes = evaluateServiceModules(sources, { timeoutMs: 1000 });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(probe['__moneyLoads']).toBe(1);
    expect(sharedModuleCount()).toBe(1);
    const first = outcomes[0]!;
    if (!first.ok) throw first.error;
    expect(await first.services[0]!.handle({ n: 1.234 }, {} as never)).toBe(123);
    // A later batch with the same key reuses it; a changed helper (new key) is evaluated anew.
    evaluateServiceModules([
      {
        filename: 'svc/t.ts',
        code: setOf('svc/t.ts', { 'svc/t.ts': serviceUsingMoney('t'), 'svc/lib/money.ts': money('k1') }),
      },
    ]);
    expect(probe['__moneyLoads']).toBe(1);
    const [changed] = evaluateServiceModules([
      {
        filename: 'svc/t.ts',
        code: setOf('svc/t.ts', {
          'svc/t.ts': serviceUsingMoney('t'),
          'svc/lib/money.ts': money('k2', 1000),
        }),
      },
    ]);
    expect(probe['__moneyLoads']).toBe(2);
    if (!changed!.ok) throw changed!.error;
    expect(await changed!.services[0]!.handle({ n: 1.234 }, {} as never)).toBe(1234);
    retainSharedModules(['k2']);
    expect(sharedModuleCount()).toBe(1);
  });

  it('gives partial exports in a cycle, as Node does, including a helper that requires the entry', async () => {
    const code = setOf('svc/a.ts', {
      'svc/a.ts': {
        key: '',
        code: `exports.early = 'a-early';\nconst b = require('./b');\nconst { defineService } = require('@laneway/sdk');\nexports.default = defineService({ name: 'cyc', handle: () => b.seen });`,
        deps: { './b': 'svc/b.ts' },
      },
      'svc/b.ts': {
        key: 'kb',
        code: `const c = require('./c');\nconst a = require('./a');\nexports.seen = [a.early, a.default === undefined, c.fromB()];`,
        deps: { './c': 'svc/c.ts', './a': 'svc/a.ts' },
      },
      'svc/c.ts': {
        key: 'kc',
        code: `const b = require('./b');\nexports.fromB = () => Object.keys(b).length;`,
        deps: { './b': 'svc/b.ts' },
      },
    });
    const [outcome] = evaluateServiceModules([{ filename: 'svc/a.ts', code }]);
    if (!outcome!.ok) throw outcome!.error;
    // c saw b while b was still loading: an empty partial export object at that time.
    expect(await outcome!.services[0]!.handle({}, {} as never)).toEqual(['a-early', true, 0]);
  });

  it('names the importing file when a helper throws, and does not keep the failed helper', () => {
    const code = setOf('svc/a.ts', {
      'svc/a.ts': serviceUsingMoney('a'),
      'svc/lib/money.ts': { key: 'bad', code: 'throw new Error("no rates")', deps: {} },
    });
    const [outcome] = evaluateServiceModules([{ filename: 'svc/a.ts', code }]);
    expect(outcome!.ok).toBe(false);
    if (outcome!.ok) return;
    expect(outcome!.error.message).toBe('svc/a.ts: loading failed: no rates');
    expect(sharedModuleCount()).toBe(0);
  });

  it('loads helpers inside a vm context, apart from this realm', async () => {
    const context = vm.createContext({});
    const code = setOf('svc/a.ts', { 'svc/a.ts': serviceUsingMoney('a'), 'svc/lib/money.ts': money('k1') });
    const [services] = loadServiceModules([{ filename: 'svc/a.ts', code }], { context });
    expect(await services![0]!.handle({ n: 2 }, {} as never)).toBe(200);
    expect(probe['__moneyLoads']).toBeUndefined();
    expect(context['__moneyLoads']).toBe(1);
    expect(sharedModuleCount()).toBe(0);
  });

  it('lets a helper that exports no service load as none when asked', () => {
    const [none] = loadServiceModules([{ filename: 'h.js', code: 'exports.x = 1;' }], {
      allowNoService: true,
    });
    expect(none).toEqual([]);
    expect(() => loadServiceModules([{ filename: 'h.js', code: 'exports.x = 1;' }])).toThrow(
      /h\.js: exports no service/,
    );
  });
});

describe('1,000 services sharing one helper', () => {
  it('hold one copy of it, and stay under 20 KB of heap each', async () => {
    const { setFlagsFromString } = await import('node:v8');
    setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // A helper of some size: 50 functions, a table.
    const helperCode = [
      'globalThis.__moneyLoads = (globalThis.__moneyLoads ?? 0) + 1;',
      'const rates = { ' + Array.from({ length: 50 }, (_, i) => `c${i}: ${1 + i / 100}`).join(', ') + ' };',
      ...Array.from({ length: 50 }, (_, i) => `exports.f${i} = (n) => Math.round(n * rates.c${i} * 100);`),
      'exports.cents = (n) => Math.round(n * 100);',
    ].join('\n');
    const helperModule: LinkedModule = { key: 'shared-helper', code: helperCode, deps: {} };
    gc();
    const before = process.memoryUsage().heapUsed;
    // Built after the baseline: a server holds each service's code (its module set, the helper's code
    // included) as the push gave it.
    const sources = Array.from({ length: 1000 }, (_, i) => ({
      filename: `svc/s${i}.ts`,
      code: setOf(`svc/s${i}.ts`, { [`svc/s${i}.ts`]: serviceUsingMoney(`s${i}`), 'svc/lib/money.ts': helperModule }),
    }));
    const outcomes = evaluateServiceModules(sources, { timeoutMs: 5000 });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    for (const o of outcomes) if (o.ok) await o.services[0]!.handle({ n: 1 }, {} as never);
    gc();
    const perServiceKb = (process.memoryUsage().heapUsed - before) / 1000 / 1024;
    expect(probe['__moneyLoads']).toBe(1);
    expect(sharedModuleCount()).toBe(1);
    console.info(`1,000 services sharing a ${helperCode.length}-byte helper: ${perServiceKb.toFixed(2)} KB of heap each`);
    expect(perServiceKb).toBeLessThan(20);
    expect(outcomes.length + sources.length).toBe(2000); // both kept alive until here, as a server holds them
  });
});
