import { transformSync } from '@swc/core';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { plainExports } from './plain-exports';

const swc = (content: string): string =>
  transformSync(content, {
    filename: 'm.ts',
    swcrc: false,
    configFile: false,
    isModule: true,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  }).code;

/** Runs CommonJS code and returns its exports as plain data (name -> value or descriptor kind). */
function run(code: string): { exports: Record<string, unknown>; getters: string[] } {
  const module = { exports: {} as Record<string, unknown> };
  const fn = vm.compileFunction(code, ['exports', 'require', 'module']) as (...a: unknown[]) => void;
  fn(module.exports, (id: string) => (id === 'node:path' ? { sep: '/', join: 'join' } : { dep: `dep of ${id}` }), module);
  const getters = Object.entries(Object.getOwnPropertyDescriptors(module.exports))
    .filter(([, d]) => d.get)
    .map(([k]) => k);
  return { exports: { ...module.exports }, getters };
}

const REWRITTEN = {
  'a default export': `const n: number = 41;\nexport default { answer: n + 1 };\n`,
  'one named export': `export const x = 'x';\n`,
  'several exports, with a hoisted function and a class': `export const a = 1;\nexport function helper() { return 2; }\nexport class K {}\nexport default a + 1;\n`,
  'renamed, string-named and re-exported bindings': `import { dep } from 'pkg';\nconst s = 1;\nexport { s as 'str name', s as other };\nexport { dep as fromPkg } from 'pkg';\nexport { dep };\n`,
  'a binding reassigned by the top level': `export let counter = 1;\ncounter += 1;\n`,
  'destructured exports': `export const { p, q } = { p: 1, q: 2 };\n`,
};

describe('plainExports', () => {
  for (const [form, source] of Object.entries(REWRITTEN)) {
    it(`turns getters into assignments for ${form}, with the same exports and line numbers`, () => {
      const original = swc(source);
      const plain = plainExports(original);
      expect(plain).not.toBe(original);
      expect(plain).not.toContain('get:');
      expect(plain).not.toMatch(/get [\w"]+ \(\)/);
      const before = run(original);
      const after = run(plain);
      expect(before.getters.length).toBeGreaterThan(0);
      expect(after.getters).toEqual([]);
      expect(JSON.stringify(after.exports)).toBe(JSON.stringify(before.exports));
      expect(Object.keys(after.exports).sort()).toEqual(Object.keys(before.exports).sort());
      // The module's own code keeps its line numbers (stack traces point where swc's output did).
      const firstCodeLine = (code: string) => code.split('\n').findIndex((l) => /^(const|let|class|var) /.test(l));
      expect(firstCodeLine(plain)).toBe(firstCodeLine(original));
    });
  }

  it('keeps live-binding getters for `export *`, whose names an assignment could not overwrite', () => {
    const original = swc(`export * from 'node:path';\nexport const sep = '\\\\';\n`);
    expect(plainExports(original)).toBe(original);
    expect(run(original).exports['sep']).toBe('\\');
  });

  it('leaves output it does not recognise exactly as it was', () => {
    const commented = swc(`// leading comment\nexport default 1;\n`);
    expect(commented.startsWith('//')).toBe(true);
    expect(plainExports(commented)).toBe(commented);
    const noExports = swc(`console.log('side effect only');\n`);
    expect(plainExports(noExports)).toBe(noExports);
    const proto = swc(`const p = 1;\nexport { p as '__proto__' };\n`);
    expect(plainExports(proto)).toBe(proto);
    const truncated = swc(`export const a = 1;\nexport const b = 2;\n`).replace('get b () {', 'get b() {');
    expect(plainExports(truncated)).toBe(truncated);
  });

  it('does not export a binding the top level never initialised: the module fails as before', () => {
    const original = swc(`export const a = 1;\nthrow new Error('boom');\n`);
    const plain = plainExports(original);
    expect(plain).not.toBe(original);
    expect(() => run(plain)).toThrow('boom');
  });
});
