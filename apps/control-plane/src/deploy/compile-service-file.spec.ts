import { loadServiceModule } from '@laneway/runtime';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { compileServiceFile, locateSwcError } from './compile-service-file';

const TS_SERVICE = `import { defineService } from '@laneway/sdk';

interface Input {
  name: string;
}

const greeting: string = 'hello';

export default defineService({
  name: 'compile.greet',
  lane: 'cpu',
  handle: (input: Input) => ({ text: \`\${greeting} \${input.name}\` }),
});
`;

const JS_SERVICE = `import { defineService } from '@laneway/sdk';

export const double = defineService({ name: 'compile.double', handle: (n) => n * 2 });
`;

/** Compiles and expects an InvalidArgumentError; returns it for further checks. */
async function compileError(path: string, content: string): Promise<InvalidArgumentError> {
  try {
    compileServiceFile({ path, content });
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return err as InvalidArgumentError;
  }
  throw new Error(`expected ${path} to fail to compile`);
}

describe('compileServiceFile', () => {
  it('compiles TypeScript to CommonJS with the types stripped', async () => {
    const compiled = compileServiceFile({ path: 'services/greet.ts', content: TS_SERVICE });

    expect(compiled.path).toBe('services/greet.ts');
    expect(compiled.source).toBe(TS_SERVICE);
    expect(compiled.code).toContain('require("@laneway/sdk")');
    expect(compiled.code).not.toMatch(/^\s*(import|export) /m);
    expect(compiled.code).not.toContain('interface Input');
    expect(compiled.code).not.toContain(': string');

    // The output is what a server evaluates: it must load as a CommonJS module and work.
    const [service, ...rest] = loadServiceModule(compiled.code, { filename: compiled.path });
    expect(rest).toEqual([]);
    expect(service?.name).toBe('compile.greet');
    expect(service?.lane).toBe('cpu');
    expect(await service?.handle({ name: 'Ada' }, {} as never)).toEqual({ text: 'hello Ada' });
  });

  it('compiles JavaScript with ES module syntax to CommonJS', async () => {
    const compiled = compileServiceFile({ path: 'services/double.js', content: JS_SERVICE });

    expect(compiled.code).toContain('require("@laneway/sdk")');
    expect(compiled.code).not.toMatch(/^\s*(import|export) /m);
    const services = loadServiceModule(compiled.code, { filename: compiled.path });
    expect(services.map((s) => s.name)).toEqual(['compile.double']);
    expect(await services[0]!.handle(21, {} as never)).toBe(42);
  });

  it('parses .js files as JavaScript, so TypeScript syntax there is an error', async () => {
    const content = 'const n: number = 1;\n';
    expect((compileServiceFile({ path: 'typed.ts', content })).code).toContain('const n = 1');
    const err = await compileError('typed.js', content);
    expect(err.message).toMatch(/^typed\.js:1:\d+: /);
  });

  it('gives the same input the same version, and different input a different one', async () => {
    const first = compileServiceFile({ path: 'a.ts', content: TS_SERVICE });
    const again = compileServiceFile({ path: 'a.ts', content: TS_SERVICE });
    const changed = compileServiceFile({ path: 'a.ts', content: TS_SERVICE.replace("'hello'", "'hi'") });
    const other = compileServiceFile({ path: 'b.js', content: JS_SERVICE });

    expect(first.version).toMatch(/^[0-9a-f]{20}$/);
    expect(again.version).toBe(first.version);
    expect(again.code).toBe(first.code);
    expect(changed.version).not.toBe(first.version);
    expect(other.version).not.toBe(first.version);
  });

  it('versions the compiled code, so only a change that survives compilation makes a new version', async () => {
    const base = compileServiceFile({ path: 'v.ts', content: 'export const x: number = 1;\n' });
    // Only a type annotation differs: the compiled code, hence the version, is the same.
    const retyped = compileServiceFile({ path: 'v.ts', content: 'export const x: 1 = 1;\n' });
    // The same content under another path is the same code.
    const moved = compileServiceFile({ path: 'elsewhere/v.ts', content: 'export const x: number = 1;\n' });

    expect(retyped.code).toBe(base.code);
    expect(retyped.version).toBe(base.version);
    expect(moved.version).toBe(base.version);
  });

  it('reports a syntax error on line 1 as path:line:col: message', async () => {
    const err = await compileError('services/broken.ts', 'const x = ;\n');

    expect(err.message).toBe('services/broken.ts:1:11: Expression expected');
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.field).toBe('files');
    expect(err.details).toEqual({ field: 'files', path: 'services/broken.ts', line: 1, column: 11 });
  });

  it('reports the line and column of an error on an indented line 3', async () => {
    const content = ['export const a = 1;', 'function f() {', '    return 1 +;', '}', ''].join('\n');
    const err = await compileError('nested/indented.ts', content);

    // `;` is the 15th character of line 3.
    expect(err.message).toBe('nested/indented.ts:3:15: Expression expected');
    expect(err.details).toMatchObject({ line: 3, column: 15 });
  });

  it('reports the position of an error further down a JavaScript file', async () => {
    const content = 'const a = 1;\n\n\nconst b = (1 + 2;\n';
    const err = await compileError('later.js', content);

    expect(err.message).toBe("later.js:4:17: Expected ',', got ';'");
    expect(err.details).toMatchObject({ path: 'later.js', line: 4, column: 17 });
  });

  it("keeps swc's rendering and Rust backtrace out of the message", async () => {
    const err = await compileError('clean.ts', 'let x: number = "a" as;\n');

    expect(err.message).toMatch(/^clean\.ts:1:23: Unexpected token `;`/);
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toMatch(/backtrace|Caused by|\| /i);
  });
});

describe('compileServiceFile positions that swc renders differently', () => {
  const where = async (content: string): Promise<string> => {
    try {
      compileServiceFile({ path: 'p.js', content });
    } catch (err) {
      return (err as Error).message.split(': ')[0]!;
    }
    throw new Error('expected a syntax error');
  };

  it('uses the header position for an error at end of file', async () => {
    expect(await where('function f() {\n  return 1;\n')).toBe('p.js:2:13');
  });

  it('counts a tab as one character', async () => {
    expect(await where('function f() {\n\tconst y = ;\n}\n')).toBe('p.js:2:12');
  });

  it('counts wide characters as one character', async () => {
    expect(await where('const s = "ünïcödé 日本語"; const y = ;')).toBe('p.js:1:36');
  });
});

describe('locateSwcError', () => {
  it('returns just the message when the text has no source snippet', async () => {
    expect(locateSwcError('  x Unexpected eof')).toEqual({ message: 'Unexpected eof' });
    expect(locateSwcError('failed to load the parser')).toEqual({ message: 'failed to load the parser' });
  });

  it('reads the line from the numbered source line and the column from the marker under it', async () => {
    const rendered = [
      '  x Expected a semicolon',
      '    ,-[m.ts:12:1]',
      ' 11 | const ok = 1;',
      ' 12 | let y = 2 3;',
      '    :           ^',
      ' 13 | export {};',
      '    `----',
    ].join('\n');

    expect(locateSwcError(rendered)).toEqual({ line: 12, column: 11, message: 'Expected a semicolon' });
  });
});
