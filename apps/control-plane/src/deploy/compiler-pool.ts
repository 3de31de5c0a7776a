import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { InvalidArgumentError, UnavailableError } from '../errors';
import type { CompiledFileResult, CompileFailure, CompileRequest, FromCompileProcess, ProgressPhase } from './compile-messages';
import type { SourceFileInput } from './compile-service-file';

export interface CompilerPoolOptions {
  /** The bundled compile-worker.js. */
  workerPath: string;
  /** Compile processes (each compiles and loads one batch at a time). */
  size: number;
  /** V8 heap limit of each process: loading (or compiling) past it costs that deploy only. */
  maxHeapMb: number;
  /** Bound on one file's top-level code when it is loaded to read its services. */
  loadTimeoutMs: number;
  /** Bound on compiling one file (swc takes about 0.1 ms for a small one). */
  compileTimeoutMs?: number;
  logger: Logger;
}

interface Task {
  files: SourceFileInput[];
  inspectOnly: boolean;
  packages: string[] | undefined;
  resolve(results: CompiledFileResult[]): void;
  reject(err: Error): void;
}

interface Slot {
  child: ChildProcess;
  ready: boolean;
  task: Task | undefined;
  taskId: number;
  /** The last progress mark read from the child's pipe. */
  phase: ProgressPhase | undefined;
  index: number;
  /** Why we killed it (a deadline), if we did. */
  killedFor: string | undefined;
  /** Its resident memory when we killed it, in MB. */
  killedAtMb: number | undefined;
  timer: NodeJS.Timeout | undefined;
  stderrTail: string;
}

// Batches below this many files per process are not split: a message round trip costs more than
// compiling a few small files.
const MIN_FILES_PER_BATCH = 64;

/**
 * A small pool of child processes that compile and inspect uploaded files. swc is native code and a
 * deeply nested input overflows its stack (a segmentation fault: no JavaScript can catch it, and it
 * takes every thread of its process); uploaded top-level code can loop or allocate without end. In a
 * child process each of these costs one deploy: the deploy gets INVALID_ARGUMENT naming the file and
 * what happened, and the process is replaced.
 */
export class CompilerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private readonly log: Logger;
  private nextId = 0;
  private closing = false;

  constructor(private readonly options: CompilerPoolOptions) {
    this.log = options.logger;
  }

  /** Starts every process; fails when one cannot start (a missing bundle, say). */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.size }, () => this.spawn()));
  }

  /**
   * Compiles and inspects `files`, split over the processes. Resolves with one result per file, in
   * order, or rejects with the InvalidArgumentError of the first failing file (in input order).
   */
  async compile(files: readonly SourceFileInput[], options: { inspectOnly?: boolean; packages?: string[] } = {}): Promise<CompiledFileResult[]> {
    const batches = split(files, Math.max(1, Math.min(this.options.size, Math.floor(files.length / MIN_FILES_PER_BATCH))));
    const settled = await Promise.allSettled(batches.map((batch) => this.run(batch, options.inspectOnly ?? false, options.packages)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.flatMap((r) => (r as PromiseFulfilledResult<CompiledFileResult[]>).value);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const task of this.queue.splice(0)) task.reject(new UnavailableError('the control plane is shutting down'));
    await Promise.all(
      [...this.slots].map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.child.once('close', () => resolve());
            slot.child.kill('SIGKILL');
          }),
      ),
    );
  }

  private run(files: SourceFileInput[], inspectOnly: boolean, packages: string[] | undefined): Promise<CompiledFileResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ files, inspectOnly, packages, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (!slot.ready || slot.task) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.taskId = ++this.nextId;
      slot.phase = undefined;
      slot.index = 0;
      this.arm(slot, this.options.compileTimeoutMs ?? 10_000, 'compile');
      const request: CompileRequest = { t: 'compile', id: slot.taskId, files: task.files, ...(task.inspectOnly ? { inspectOnly: true } : {}), ...(task.packages?.length ? { packages: task.packages } : {}) };
      slot.child.send(request);
    }
  }

  private spawn(): Promise<void> {
    const child = fork(this.options.workerPath, [], {
      execArgv: [`--max-old-space-size=${this.options.maxHeapMb}`],
      // stdin, stdout ignored; stderr kept (V8 reports a heap blow-up there); fd 3: progress marks.
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const slot: Slot = { child, ready: false, task: undefined, taskId: 0, phase: undefined, index: 0, killedFor: undefined, killedAtMb: undefined, timer: undefined, stderrTail: '' };
    this.slots.add(slot);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      slot.stderrTail = (slot.stderrTail + chunk).slice(-4096);
    });
    let pending = '';
    (child.stdio[3] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
      const text = pending + chunk;
      const end = text.lastIndexOf('\n');
      pending = text.slice(end + 1);
      if (end < 0) return;
      const mark = /^(\d+) ([cl])(\d+)$/.exec(text.slice(text.lastIndexOf('\n', end - 1) + 1, end));
      if (mark && Number(mark[1]) === slot.taskId) this.progress(slot, mark[2] as ProgressPhase, Number(mark[3]));
    });
    return new Promise((resolve, reject) => {
      child.on('message', (message: FromCompileProcess) => {
        if (message.t === 'ready') {
          slot.ready = true;
          resolve();
          this.dispatch();
          return;
        }
        const task = slot.task;
        if (!task || message.id !== slot.taskId) return;
        this.finish(slot);
        if (message.t === 'compiled') task.resolve(message.files);
        else task.reject(failureError(task.files, message.failure));
        this.dispatch();
      });
      child.on('error', (err) => {
        this.log.error({ err }, 'compile process error');
      });
      // 'close' comes after the pipes are drained, so the last progress mark has been read.
      child.on('close', (code, signal) => {
        this.slots.delete(slot);
        if (slot.timer) clearTimeout(slot.timer);
        if (!slot.ready) reject(new Error(`the compile process ${this.options.workerPath} exited (${signal ?? code}) before it was ready: ${slot.stderrTail.trim().slice(-500)}`));
        const task = slot.task;
        slot.task = undefined;
        if (task && this.closing) {
          // close() ended it: nothing crashed, the deploy just cannot finish here.
          task.reject(new UnavailableError('the control plane is shutting down'));
        } else if (task) {
          const error = this.deathError(slot, task.files, code, signal);
          this.log.warn({ file: error.details['path'], code, signal, reason: error.message }, 'compile process died on a deploy; replacing it');
          task.reject(error);
        }
        if (this.closing) return;
        this.spawn().catch((err: unknown) => {
          // A replacement still starting when the pool closes is ended by close(): not an error.
          if (this.closing) return;
          this.log.error({ err }, 'could not replace a compile process');
          // With no process left, queued deploys would wait for ever.
          if (this.slots.size === 0) for (const t of this.queue.splice(0)) t.reject(new UnavailableError('no compile process is running; see the control-plane log'));
        });
      });
    });
  }

  private progress(slot: Slot, phase: ProgressPhase, index: number): void {
    if (!slot.task) return;
    const moved = phase !== slot.phase || index !== slot.index;
    slot.phase = phase;
    slot.index = index;
    // Every file gets its own budget, restarted when the process moves on to the next one.
    if (moved) this.arm(slot, phase === 'l' ? this.options.loadTimeoutMs : (this.options.compileTimeoutMs ?? 10_000), phase === 'l' ? 'load' : 'compile');
  }

  private arm(slot: Slot, ms: number, what: 'compile' | 'load'): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      slot.killedFor = what;
      slot.killedAtMb = residentMb(slot.child.pid);
      slot.child.kill('SIGKILL');
    }, ms);
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.task = undefined;
  }

  private deathError(slot: Slot, files: SourceFileInput[], code: number | null, signal: NodeJS.Signals | null): InvalidArgumentError {
    const file = files[Math.min(slot.index, files.length - 1)]!;
    const loading = slot.phase === 'l';
    const details = { path: file.path, phase: loading ? 'load' : 'compile' };
    // Near its heap limit, V8 collects garbage again and again before it gives up, so a top level that
    // allocates without bound often runs into the deadline first.
    if (slot.killedFor && slot.killedAtMb !== undefined && slot.killedAtMb >= 0.75 * this.options.maxHeapMb) {
      return new InvalidArgumentError(
        'files',
        `${file.path}: ${loading ? 'loading' : 'compiling'} used ${Math.round(slot.killedAtMb)} MB, near its ${this.options.maxHeapMb} MB limit (LANEWAY_COMPILE_MAX_HEAP_MB), and had not finished: does its top level allocate without bound?`,
        details,
      );
    }
    if (slot.killedFor === 'load') {
      return new InvalidArgumentError('files', `${file.path}: top-level code ran past ${this.options.loadTimeoutMs} ms (LANEWAY_LOAD_TIMEOUT_MS): does it loop without end?`, details);
    }
    if (slot.killedFor === 'compile') {
      return new InvalidArgumentError('files', `${file.path}: compiling did not finish within ${this.options.compileTimeoutMs ?? 10_000} ms`, details);
    }
    if (/heap out of memory|Allocation failed/i.test(slot.stderrTail)) {
      return new InvalidArgumentError(
        'files',
        `${file.path}: ${loading ? 'loading' : 'compiling'} used more than ${this.options.maxHeapMb} MB (LANEWAY_COMPILE_MAX_HEAP_MB): does its top level allocate without bound?`,
        details,
      );
    }
    const how = signal ?? `exit code ${code}`;
    if (!loading) {
      return new InvalidArgumentError('files', `${file.path}: the compiler crashed on this file (${how}): nesting too deep?`, details);
    }
    return new InvalidArgumentError('files', `${file.path}: loading it crashed its process (${how})`, details);
  }
}

/** Resident memory of a process from /proc (Linux), or undefined where that cannot be read. */
function residentMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function failureError(files: SourceFileInput[], failure: CompileFailure): InvalidArgumentError {
  return new InvalidArgumentError(failure.field, failure.message, { path: files[failure.index]?.path, ...failure.details });
}

/** Splits into `n` contiguous batches of about equal bytes (so one big file does not sit with half the rest). */
function split(files: readonly SourceFileInput[], n: number): SourceFileInput[][] {
  if (n <= 1) return [files.slice()];
  const total = files.reduce((sum, f) => sum + f.content.length, 0);
  const batches: SourceFileInput[][] = [[]];
  let size = 0;
  for (const file of files) {
    const current = batches[batches.length - 1]!;
    if (current.length && size >= (total / n) * batches.length && batches.length < n) batches.push([file]);
    else current.push(file);
    size += file.content.length;
  }
  return batches;
}
