// Entry point of a compile process (bundled to compile-worker.js beside the control plane's main.js).
// It compiles uploaded files with swc and loads them in a throwaway vm context to read their
// services. Both steps run uploaded input through native code or uploaded code: a crash, a heap
// blow-up or an endless loop here costs this process only, and the parent names the file.
import { writeSync } from 'node:fs';
import { LanewayError } from '../errors';
import type { CompileRequest, CompiledFileResult, FromCompileProcess, ProgressPhase } from './compile-messages';
import { PROGRESS_FD } from './compile-messages';
import { compileServiceFile, type CompiledServiceFile } from './compile-service-file';
import { inspectFiles } from './inspect-services';

if (!process.send) throw new Error('compile-worker must run as a child process with an IPC channel');
const send = (message: FromCompileProcess): void => {
  process.send!(message);
};
const mark = (id: number, phase: ProgressPhase, index: number): void => {
  writeSync(PROGRESS_FD, `${id} ${phase}${index}\n`);
};

process.on('message', (message: CompileRequest) => {
  if (message.t === 'compile') send(handle(message));
});
// The parent going away (a crash, a kill) must not leave this process behind.
process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });

function handle({ id, files }: CompileRequest): FromCompileProcess {
  let index = 0;
  try {
    const compiled: CompiledServiceFile[] = [];
    for (; index < files.length; index++) {
      mark(id, 'c', index);
      compiled.push(compileServiceFile(files[index]!));
    }
    index = 0;
    const inspected = inspectFiles(compiled, {
      beforeModule: (n) => {
        index = n;
        mark(id, 'l', n);
      },
    });
    const results: CompiledFileResult[] = compiled.map((file, n) => ({
      code: file.code,
      version: file.version,
      services: inspected[n]!.map((s) => ({ name: s.name, lane: s.lane, policy: s.policy, connections: s.connections })),
    }));
    return { t: 'compiled', id, files: results };
  } catch (err) {
    if (err instanceof LanewayError) {
      const { field, ...details } = err.details as { field?: string };
      return { t: 'failed', id, failure: { index, field: field ?? 'files', message: err.message, details } };
    }
    return { t: 'failed', id, failure: { index, field: 'files', message: `${files[index]?.path ?? 'a file'}: ${String(err)}`, details: {} } };
  }
}
