import { transformSync, type Options } from '@swc/core';
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors';
import { plainExports } from './plain-exports';

export interface SourceFileInput {
  path: string;
  content: string;
}

export interface CompiledServiceFile {
  path: string;
  source: string;
  /** CommonJS JavaScript that servers evaluate (exports assigned at the end: see plainExports). */
  code: string;
  /** Content hash of `code`: every service the file exports gets this version. */
  version: string;
}

const TYPESCRIPT = /\.(ts|mts|cts)$/;
const TSX = /\.tsx$/;

/**
 * Compiles one uploaded file to CommonJS with swc (about 0.1 ms per small file; see
 * shared/TOOLCHAIN.md). Types are stripped, not checked: a deploy must stay fast. Runs only in the
 * compile processes (compile-worker.ts): swc is native code, and some inputs crash it outright.
 */
export function compileServiceFile(file: SourceFileInput): CompiledServiceFile {
  let code: string;
  try {
    code = plainExports(transformSync(file.content, swcOptions(file.path)).code);
  } catch (err) {
    const { line, column, message } = locateSwcError(String((err as Error)?.message ?? err), file.content);
    const where = line ? `${file.path}:${line}:${column}` : file.path;
    throw new InvalidArgumentError('files', `${where}: ${message}`, { path: file.path, line, column });
  }
  const version = createHash('sha256').update(code).digest('hex').slice(0, 20);
  return { path: file.path, source: file.content, code, version };
}

function swcOptions(path: string): Options {
  const tsx = TSX.test(path);
  const isTs = TYPESCRIPT.test(path) || tsx;
  return {
    filename: path,
    swcrc: false,
    configFile: false,
    sourceMaps: false,
    isModule: true,
    jsc: {
      parser: isTs ? { syntax: 'typescript', tsx } : { syntax: 'ecmascript', jsx: false },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  };
}

/**
 * swc reports errors as a rendered snippet: a header (`,-[file:line:col]`), numbered source lines
 * (` 3 | code`) and a marker line (`   :    ^`) under the faulty column. Read the position off the
 * marker; with no marker (an error at end of file) the header holds the position. The rendering
 * expands tabs and draws wide characters two cells wide, so the marker's screen column is mapped back
 * to a character column with the source line.
 */
export function locateSwcError(text: string, source?: string): { line?: number; column?: number; message: string } {
  const lines = text.split('\n');
  const message = (lines.find((l) => /^\s*x /.test(l)) ?? lines[0] ?? 'syntax error').replace(/^\s*x\s+/, '').trim();
  for (let n = 1; n < lines.length; n++) {
    const marker = lines[n]!;
    const caret = marker.indexOf('^');
    if (caret < 0 || !/^\s*:/.test(marker)) continue;
    for (let k = n - 1; k >= 0; k--) {
      const numbered = /^\s*(\d+) \| /.exec(lines[k]!);
      if (numbered) {
        const line = Number(numbered[1]);
        const screenColumn = Math.max(1, caret - numbered[0].length + 1);
        const sourceLine = source?.split(/\r?\n/)[line - 1];
        return { line, column: sourceLine === undefined ? screenColumn : characterColumn(sourceLine, screenColumn), message };
      }
    }
  }
  const header = /,-\[.*:(\d+):(\d+)\]/.exec(text);
  if (header) return { line: Number(header[1]), column: Number(header[2]), message };
  return { message };
}

const WIDE = /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1FAFF}\u{20000}-\u{3FFFD}]/u;

/** The 1-based character column whose rendering starts at screen column `screenColumn`. */
function characterColumn(line: string, screenColumn: number): number {
  let screen = 1;
  let column = 1;
  for (const ch of line) {
    if (screen >= screenColumn) break;
    screen += ch === '\t' ? 4 : WIDE.test(ch) ? 2 : 1;
    column += ch.length;
  }
  return column;
}
