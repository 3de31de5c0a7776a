import { describe, expect, it } from 'vitest';
import { evaluateServiceModules } from './evaluate-service-modules';
import { loadServiceModules } from './load-service-module';

const good = (name: string): string => `
const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: '${name}', handle: () => '${name}' });
`;

const summary = (outcomes: ReturnType<typeof evaluateServiceModules>) =>
  outcomes.map((o) => (o.ok ? o.services.map((s) => s.name).join() : [o.error.reason, o.error.message]));

describe('evaluateServiceModules', () => {
  it('reports each module; one that throws, recurses without end or loops does not stop the others', () => {
    const outcomes = evaluateServiceModules(
      [
        { filename: 'a.js', code: good('a') },
        { filename: 'throws.js', code: 'throw new Error("no config")' },
        { filename: 'recurses.js', code: 'function f() { return f() + 1; }\nf();' },
        { filename: 'b.js', code: good('b') },
        { filename: 'loops.js', code: 'for (;;) {}' },
        { filename: 'syntax.js', code: 'exports.x = (' },
        { filename: 'empty.js', code: 'exports.x = 1;' },
        { filename: 'c.js', code: good('c') },
      ],
      { timeoutMs: 100 },
    );
    expect(summary(outcomes)).toEqual([
      'a',
      ['threw', 'throws.js: loading failed: no config'],
      ['threw', 'recurses.js: loading failed: Maximum call stack size exceeded'],
      'b',
      ['timeout', 'loops.js: top-level code ran past 100 ms'],
      ['compile', expect.stringMatching(/^syntax\.js: loading failed: Unexpected end of input/)],
      ['no-service', expect.stringMatching(/^empty\.js: exports no service/)],
      'c',
    ]);
  });

  it('gives a module its own budget when the modules before it in the batch used part of it', () => {
    const slow = (ms: number) => `const end = Date.now() + ${ms}; while (Date.now() < end) {}\n${good(`slow${ms}`)}`;
    const starts: number[] = [];
    const outcomes = evaluateServiceModules(
      [
        { filename: 'slow1.js', code: slow(360) },
        { filename: 'slow2.js', code: slow(361) },
      ],
      { timeoutMs: 600, onModule: (i) => starts.push(i) },
    );
    // The second started with 240 ms left, was stopped, and ran again alone (with 239 ms to spare, so
    // a loaded machine that stalls the process for a while does not time it out a second time).
    expect(summary(outcomes)).toEqual(['slow360', 'slow361']);
    expect(starts).toEqual([0, 1, 1]);
  });

  it('is unbounded without a timeout, and runs in the current context', () => {
    const [outcome] = evaluateServiceModules([{ filename: 'g.js', code: `globalThis.__lanewayProbe = 1;\n${good('g')}` }]);
    expect(outcome!.ok).toBe(true);
    expect((globalThis as Record<string, unknown>)['__lanewayProbe']).toBe(1);
    delete (globalThis as Record<string, unknown>)['__lanewayProbe'];
  });
});

describe('loadServiceModules in the current context', () => {
  it('stops runaway top-level code when given a timeout, naming the file', () => {
    expect(() =>
      loadServiceModules(
        [
          { filename: 'ok.js', code: good('ok') },
          { filename: 'spin.js', code: 'while (true) {}' },
        ],
        { timeoutMs: 50 },
      ),
    ).toThrow(/^spin\.js: loading failed: Script execution timed out/);
  });
});
