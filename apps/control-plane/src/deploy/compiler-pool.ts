import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { InvalidArgumentError, UnavailableError } from '../errors';
import { PROGRESS_MARK_BYTES, type CompiledFileResult, type CompileFailure, type CompileRequest, type FromCompileProcess, type ProgressPhase } from './compile-messages';
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
  /** The child's progress file (its fd 3, already unlinked): the last mark it wrote, at offset 0. */
  progressFd: number;
  /** The last progress mark read from it. */
  phase: ProgressPhase | undefined;
  index: number;
  /** When the file being worked on runs out of its budget (performance.now()), and which budget. */
  deadline: number;
  budget: 'compile' | 'load';
  /** Why we killed it (a deadline), if we did. */
  killedFor: string | undefined;
  /** Its resident memory when we killed it, in MB. */
  killedAtMb: number | undefined;
  /** Reads the progress file while a task runs. */
  timer: NodeJS.Timeout | undefined;
  stderrTail: string;
}

// How often a busy process's progress file is read: a file's budget ends at most this late.
const PROGRESS_POLL_MS = 50;

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
      this.arm(slot, 'compile');
      const request: CompileRequest = { t: 'compile', id: slot.taskId, files: task.files, ...(task.inspectOnly ? { inspectOnly: true } : {}), ...(task.packages?.length ? { packages: task.packages } : {}) };
      slot.child.send(request);
    }
  }

  private spawn(): Promise<void> {
    const progressFd = openProgressFile();
    let child: ChildProcess;
    try {
      child = fork(this.options.workerPath, [], {
        execArgv: [`--max-old-space-size=${this.options.maxHeapMb}`],
        // stdin, stdout ignored; stderr kept (V8 reports a heap blow-up there); fd 3: progress marks.
        stdio: ['ignore', 'ignore', 'pipe', progressFd, 'ipc'],
        serialization: 'advanced',
      });
    } catch (err) {
      closeSync(progressFd);
      throw err;
    }
    const slot: Slot = {
      child,
      ready: false,
      task: undefined,
      taskId: 0,
      progressFd,
      phase: undefined,
      index: 0,
      deadline: 0,
      budget: 'compile',
      killedFor: undefined,
      killedAtMb: undefined,
      timer: undefined,
      stderrTail: '',
    };
    this.slots.add(slot);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      slot.stderrTail = (slot.stderrTail + chunk).slice(-4096);
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
      // 'close' comes after the process ended: its last progress mark is in the file.
      child.on('close', (code, signal) => {
        this.slots.delete(slot);
        this.readProgress(slot);
        if (slot.timer) clearInterval(slot.timer);
        slot.timer = undefined;
        closeSync(slot.progressFd);
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

  /** Reads the last mark the process wrote for its current task, if any. */
  private readProgress(slot: Slot): void {
    const bytes = Buffer.alloc(PROGRESS_MARK_BYTES);
    let read: number;
    try {
      read = readSync(slot.progressFd, bytes, 0, PROGRESS_MARK_BYTES, 0);
    } catch {
      return;
    }
    const mark = /^(\d+) ([cl])(\d+)\n/.exec(bytes.toString('latin1', 0, read));
    if (mark && Number(mark[1]) === slot.taskId) this.progress(slot, mark[2] as ProgressPhase, Number(mark[3]));
  }

  private progress(slot: Slot, phase: ProgressPhase, index: number): void {
    if (!slot.task) return;
    const moved = phase !== slot.phase || index !== slot.index;
    slot.phase = phase;
    slot.index = index;
    // Every file gets its own budget, restarted when the process is seen to move on to the next one.
    if (moved) this.arm(slot, phase === 'l' ? 'load' : 'compile');
  }

  /**
   * Gives the file now being worked on its budget. Progress is read every PROGRESS_POLL_MS rather
   * than pushed: the marks are positional writes to a file, which cost the compile process about a
   * microsecond each, where a pipe write and the parent's wake-up for it took some 18 µs, two per file.
   */
  private arm(slot: Slot, budget: 'compile' | 'load'): void {
    slot.budget = budget;
    slot.deadline = performance.now() + (budget === 'load' ? this.options.loadTimeoutMs : (this.options.compileTimeoutMs ?? 10_000));
    slot.timer ??= setInterval(() => {
      this.readProgress(slot);
      if (!slot.task || performance.now() < slot.deadline || slot.killedFor) return;
      slot.killedFor = slot.budget;
      slot.killedAtMb = residentMb(slot.child.pid);
      slot.child.kill('SIGKILL');
    }, PROGRESS_POLL_MS);
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearInterval(slot.timer);
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

/**
 * A new file for a compile process's progress marks, opened for reading and writing and unlinked at
 * once: it lives as long as the descriptors do, and nothing is left behind.
 */
function openProgressFile(): number {
  const file = path.join(os.tmpdir(), `laneway-compile-progress-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(file, 'wx+', 0o600);
  unlinkSync(file);
  return fd;
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
