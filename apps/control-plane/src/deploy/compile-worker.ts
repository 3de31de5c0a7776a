// Entry point of a compile process (bundled to compile-worker.js beside the control plane's main.js).
// It compiles uploaded files with swc and loads them in a throwaway vm context to read their
// services. Both steps run uploaded input through native code or uploaded code: a crash, a heap
// blow-up or an endless loop here costs this process only, and the parent names the file.
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { noServiceMessage } from '@laneway/runtime';
import { LanewayError } from '../errors';
import type { CompileRequest, CompiledFileResult, FromCompileProcess, ProgressPhase } from './compile-messages';
import { PROGRESS_FD, PROGRESS_MARK_BYTES } from './compile-messages';
import { compileServiceFile, type CompiledServiceFile } from './compile-service-file';
import { inspectFiles } from './inspect-services';
import { isPackagePath, relativeImports } from './link-files';

if (!process.send) throw new Error('compile-worker must run as a child process with an IPC channel');
const send = (message: FromCompileProcess): void => {
  process.send!(message);
};
const markBytes = Buffer.alloc(PROGRESS_MARK_BYTES);
const mark = (id: number, phase: ProgressPhase, index: number): void => {
  markBytes.fill(0x20);
  markBytes.write(`${id} ${phase}${index}\n`, 'latin1');
  writeSync(PROGRESS_FD, markBytes, 0, PROGRESS_MARK_BYTES, 0);
};

process.on('message', (message: CompileRequest) => {
  if (message.t === 'compile') send(handle(message));
});
// The parent going away (a crash, a kill) must not leave this process behind.
process.on('disconnect', () => process.exit(0));
// A Ctrl-C reaches the whole process group, this process too (and a service manager's SIGTERM often
// the whole group): the parent owns its lifetime. Its own signal closes the pool, which ends this
// process, and a parent gone ends it through 'disconnect' above; dying here at once would race that
// shutdown, and the pool would take the exit for a crash and start a replacement.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
send({ t: 'ready' });

function handle({ id, files, inspectOnly, packages: bundled }: CompileRequest): FromCompileProcess {
  let index = 0;
  const packages = new Set(bundled);
  try {
    const compiled: CompiledServiceFile[] = [];
    for (; index < files.length; index++) {
      mark(id, 'c', index);
      const file = files[index]!;
      // A bundled npm package is CommonJS already, and may not be strict-mode code.
      const asIs = inspectOnly || isPackagePath(file.path);
      compiled.push(asIs ? { path: file.path, source: '', code: file.content, version: asIs ? contentVersion(file.content) : '' } : compileServiceFile(file));
    }
    const imports = compiled.map((file) => (inspectOnly || isPackagePath(file.path) ? [] : relativeImports(file.code, packages)));
    // A file with relative imports is inspected once linked with what it imports (a second request);
    // a package is not inspected on its own (it exports no service, and runs inside its importers').
    const inspectAt = compiled.flatMap((file, n) => (imports[n]!.length || (!inspectOnly && isPackagePath(file.path)) ? [] : [n]));
    index = 0;
    const inspected = inspectFiles(
      inspectAt.map((n) => compiled[n]!),
      {
        allowNoService: true,
        beforeModule: (k) => {
          index = inspectAt[k]!;
          mark(id, 'l', index);
        },
      },
    );
    const servicesOf = new Map(inspectAt.map((n, k) => [n, inspected[k]!]));
    const results: CompiledFileResult[] = compiled.map((file, n) => {
      const services = servicesOf.get(n) ?? [];
      return {
        code: file.code,
        version: file.version,
        imports: imports[n]!,
        ...((servicesOf.has(n) || isPackagePath(file.path)) && !services.length ? { noService: noServiceMessage(file.path) } : {}),
        services: services.map((s) => ({ name: s.name, lane: s.lane, policy: s.policy, connections: s.connections, inputSchema: s.inputSchema ?? '' })),
      };
    });
    return { t: 'compiled', id, files: results };
  } catch (err) {
    if (err instanceof LanewayError) {
      const { field, ...details } = err.details as { field?: string };
      return { t: 'failed', id, failure: { index, field: field ?? 'files', message: err.message, details } };
    }
    return { t: 'failed', id, failure: { index, field: 'files', message: `${files[index]?.path ?? 'a file'}: ${String(err)}`, details: {} } };
  }
}

function contentVersion(content: string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 20);
}
