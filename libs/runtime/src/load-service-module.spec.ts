import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { loadServiceModule, loadServiceModules } from './load-service-module';

const twoServices = `
const sdk = require('@laneway/sdk');
exports.a = sdk.defineService({ name: 'x.a', handle: (i) => ({ got: i }) });
exports.default = sdk.defineService({ name: 'x.b', lane: 'cpu', handle: () => 2 });
`;

describe('loadServiceModule', () => {
  it('collects every exported service, default first', async () => {
    const services = loadServiceModule(twoServices, { filename: 'x.js' });
    expect(services.map((s) => [s.name, s.lane])).toEqual([
      ['x.b', 'cpu'],
      ['x.a', 'network'],
    ]);
    expect(await services[1]!.handle({ n: 1 }, {} as never)).toEqual({ got: { n: 1 } });
  });

  it('loads inside a separate context without leaking globals', () => {
    const context = vm.createContext({});
    const services = loadServiceModule(`globalThis.leak = 1;\n${twoServices}`, { filename: 'x.js', context });
    expect(services).toHaveLength(2);
    expect((globalThis as Record<string, unknown>)['leak']).toBeUndefined();
    expect(context['leak']).toBe(1);
  });

  it('stops runaway top-level code in a context', () => {
    const context = vm.createContext({});
    expect(() => loadServiceModule('while (true) {}', { filename: 'loop.js', context, timeoutMs: 50 })).toThrow(
      /loop\.js: loading failed: Script execution timed out/,
    );
  });

  it('names the file when the module throws or exports nothing', () => {
    expect(() => loadServiceModule('throw new Error("boom")', { filename: 'bad.js' })).toThrow(
      'bad.js: loading failed: boom',
    );
    expect(() => loadServiceModule('exports.x = 1', { filename: 'empty.js' })).toThrow(/empty\.js: exports no service/);
  });

  it('calls beforeModule before each module and then runs the batch without the watchdog', () => {
    const context = vm.createContext({});
    const seen: number[] = [];
    const code = 'const end = Date.now() + 80; while (Date.now() < end) {}\n' + twoServices;
    const loaded = loadServiceModules(
      [
        { code, filename: 'a.js' },
        { code, filename: 'b.js' },
      ],
      { context, timeoutMs: 50, beforeModule: (i) => seen.push(i) },
    );
    expect(loaded).toHaveLength(2);
    expect(seen).toEqual([0, 1]);
  });
});
