import { transformSync } from '@swc/core';
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors';

export interface SourceFileInput {
  path: string;
  content: string;
}

export interface CompiledServiceFile {
  path: string;
  source: string;
  /** CommonJS JavaScript that servers evaluate. */
  code: string;
  /** Content hash of `code`: every service the file exports gets this version. */
  version: string;
}

const TYPESCRIPT = /\.(ts|mts|cts)$/;
const TSX = /\.tsx$/;

/**
 * Compiles one uploaded file to CommonJS with swc, in-process (about 0.1 ms per small file; see
 * shared/TOOLCHAIN.md). Types are stripped, not checked: a deploy must stay fast.
 */
export function compileServiceFile(file: SourceFileInput): CompiledServiceFile {
  const isTs = TYPESCRIPT.test(file.path) || TSX.test(file.path);
  let code: string;
  try {
    code = transformSync(file.content, {
      filename: file.path,
      swcrc: false,
      configFile: false,
      sourceMaps: false,
      isModule: true,
      jsc: {
        parser: isTs ? { syntax: 'typescript', tsx: TSX.test(file.path) } : { syntax: 'ecmascript', jsx: false },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    }).code;
  } catch (err) {
    const { line, column, message } = locateSwcError(String((err as Error)?.message ?? err));
    const where = line ? `${file.path}:${line}:${column}` : file.path;
    throw new InvalidArgumentError('files', `${where}: ${message}`, { path: file.path, line, column });
  }
  const version = createHash('sha256').update(code).digest('hex').slice(0, 20);
  return { path: file.path, source: file.content, code, version };
}

/**
 * swc reports errors as a rendered snippet: a header line, numbered source lines (` 3 | code`) and a
 * marker line (`   :    ^`) under the faulty column. Read the position off that rendering.
 */
export function locateSwcError(text: string): { line?: number; column?: number; message: string } {
  const lines = text.split('\n');
  const message = (lines.find((l) => /^\s*x /.test(l)) ?? lines[0] ?? 'syntax error').replace(/^\s*x\s+/, '').trim();
  for (let n = 1; n < lines.length; n++) {
    const marker = lines[n]!;
    const caret = marker.indexOf('^');
    if (caret < 0 || !/^\s*:/.test(marker)) continue;
    for (let k = n - 1; k >= 0; k--) {
      const source = /^\s*(\d+) \| /.exec(lines[k]!);
      if (source) {
        const codeStart = source[0].length;
        return { line: Number(source[1]), column: Math.max(1, caret - codeStart + 1), message };
      }
    }
  }
  return { message };
}
