import { Worker } from 'node:worker_threads';
import type { ServiceModuleSource } from '@laneway/runtime';
import type { Logger } from 'pino';
import { describeLoadFailure, type LoadFailure } from './describe-load-failure';
import type { FromLoadChecker, LoadCheckerData, ToLoadChecker } from './load-check-messages';
import { LoadProgress } from './load-progress';

export interface LoadCheckerOptions {
  /** The bundled load-check-worker.js. */
  workerPath: string;
  /** Bound on each module's top-level code (LANEWAY_LOAD_TIMEOUT_MS). */
  timeoutMs: number;
  /** The checker thread's heap limit (LANEWAY_LOAD_MAX_HEAP_MB). */
  maxHeapMb: number;
  /** Modules per answer from the thread; default 100. */
  chunk?: number;
  logger: Logger;
}

/** One module's verdict: `failure` is the NACK message, undefined when the module loaded. */
export interface CheckVerdict {
  index: number;
  failure: string | undefined;
}

interface Thread {
  worker: Worker;
  progress: LoadProgress;
  /** The thread's uncaught error ('error' comes before 'exit'). */
  error: Error | undefined;
  onMessage: ((message: FromLoadChecker) => void) | undefined;
  onExit: ((code: number) => void) | undefined;
}

/** How one attempt on one thread ended. */
type Attempt =
  | { done: true }
  /** The thread died or hung after answering for the first `reported` modules, in module `blamed` if known. */
  | { done: false; reported: number; blamed: number | undefined; failure: LoadFailure };

// Small enough that the main thread starts early; large enough that the watchdog per chunk stays cheap.
const DEFAULT_CHUNK = 100;
// Heap a thread may keep after a check (an idle one holds about 5-12 MB) before it is replaced.
const RECYCLE_ABOVE_MB = 32;
// A thread's own vm watchdog stops a module at the timeout; this is how much later it counts as stuck.
const STUCK_GRACE_MS = 1000;

/**
 * Evaluates modules in a worker thread with a heap limit before the main thread does, and says which
 * failed: a module that throws or runs past the timeout is reported by the thread; one that exhausts
 * its heap or ends it is found through {@link LoadProgress} once the thread is gone, and the thread is
 * replaced to check the rest. Answers come in chunks, so the caller evaluates one while the next is
 * checked. One long-lived thread (a thread costs about 56 ms and 7.6 MB to start), restarted lazily
 * after it dies and replaced when checked code left handles running in it or grew its heap.
 */
export class LoadChecker {
  private thread: Thread | undefined;
  private sequence = 0;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly options: LoadCheckerOptions) {
    this.log = options.logger.child({ component: 'load-checker' });
  }

  /** Starts the thread ahead of the first check. */
  start(): void {
    if (!this.closed) this.thread ??= this.spawn();
  }

  /**
   * Checks `sources`; `onVerdicts` gets every module's verdict exactly once, a chunk at a time (not
   * necessarily in order after a thread died). Checks run one at a time.
   */
  check(sources: readonly ServiceModuleSource[], onVerdicts: (verdicts: CheckVerdict[]) => void): Promise<void> {
    const run = this.queue.then(() => this.checkAll(sources, onVerdicts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    const thread = this.thread;
    this.thread = undefined;
    if (thread) await thread.worker.terminate();
  }

  private async checkAll(sources: readonly ServiceModuleSource[], onVerdicts: (verdicts: CheckVerdict[]) => void): Promise<void> {
    let pending = sources.map((_, i) => i);
    let fruitless = 0;
    while (pending.length) {
      if (this.closed) throw new Error('the load checker is closed');
      const indices = pending;
      const attempt = await this.attempt(
        indices.map((i) => sources[i]!),
        (verdicts) => onVerdicts(verdicts.map((v) => ({ index: indices[v.index]!, failure: v.failure }))),
      );
      if (attempt.done) return;
      const { reported, blamed, failure } = attempt;
      // Modules the thread went through after its last answer are checked again: their answer was lost.
      pending = indices.slice(reported).filter((_, n) => n + reported !== blamed);
      if (blamed !== undefined && blamed >= reported) {
        fruitless = 0;
        const index = indices[blamed]!;
        const message = describeLoadFailure(sources[index]!.filename, failure);
        this.log.warn({ file: sources[index]!.filename, failure: message }, 'a module failed the load check in its thread');
        onVerdicts([{ index, failure: message }]);
        continue;
      }
      // Not in a module: the thread died or hung between them (it never started, or code checked
      // earlier ran on). Once more on a new thread; twice in a row without progress, give up.
      fruitless = reported > 0 ? 0 : fruitless + 1;
      const why = threadFailure(failure);
      this.log.error({ failure: why }, 'the load-check thread failed outside any module');
      if (fruitless >= 2) {
        onVerdicts(pending.map((index) => ({ index, failure: `${sources[index]!.filename}: could not be checked before loading: ${why}` })));
        return;
      }
    }
  }

  private attempt(sources: ServiceModuleSource[], onVerdicts: (verdicts: CheckVerdict[]) => void): Promise<Attempt> {
    const thread = (this.thread ??= this.spawn());
    const id = ++this.sequence;
    const { timeoutMs } = this.options;
    let reported = 0;
    return new Promise<Attempt>((resolve, reject) => {
      const end = (attempt: Attempt | Error): void => {
        stopWatching();
        thread.onMessage = undefined;
        thread.onExit = undefined;
        if (attempt instanceof Error) reject(attempt);
        else resolve(attempt);
      };
      thread.onMessage = (message) => {
        if (message.id !== id) return;
        const failed = new Map(message.failures.map((f) => [f.index, f.message]));
        const verdicts: CheckVerdict[] = [];
        for (let index = message.from; index < message.to; index++) verdicts.push({ index, failure: failed.get(index) });
        reported = message.to;
        try {
          onVerdicts(verdicts);
        } catch (err) {
          // Thrown inside a worker's 'message' event it would be uncaught: the check fails instead.
          this.abandon(thread);
          end(err as Error);
          return;
        }
        if (!message.health) return;
        const { heapMb, leftRunning } = message.health;
        if (leftRunning || heapMb > Math.max(RECYCLE_ABOVE_MB, this.options.maxHeapMb / 4)) {
          // Copies of the checked code's timers, sockets or caches must not live on in this thread.
          this.log.info({ heapMb: Math.round(heapMb), leftRunning }, 'replacing the load-check thread after a check');
          this.abandon(thread);
        }
        end({ done: true });
      };
      thread.onExit = (code) => {
        const failure: LoadFailure =
          (thread.error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? { kind: 'heap', heap: { limitMb: this.options.maxHeapMb, setting: 'LANEWAY_LOAD_MAX_HEAP_MB' } }
            : { kind: 'exit', code, detail: thread.error?.message };
        end({ done: false, reported, blamed: thread.progress.current, failure });
      };
      const stopWatching = thread.progress.watch(timeoutMs + STUCK_GRACE_MS, (blamed) => {
        // Terminating a thread blocked in native code takes effect only when the call returns: do not wait.
        this.abandon(thread);
        end({ done: false, reported, blamed, failure: { kind: 'stuck', timeoutMs } });
      });
      const message: ToLoadChecker = { t: 'check', id, sources, chunk: this.options.chunk ?? DEFAULT_CHUNK };
      thread.worker.postMessage(message);
    });
  }

  private spawn(): Thread {
    const progress = new LoadProgress();
    const workerData: LoadCheckerData = { progress: progress.buffer, timeoutMs: this.options.timeoutMs, maxHeapMb: this.options.maxHeapMb };
    const worker = new Worker(this.options.workerPath, {
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb },
    });
    const thread: Thread = { worker, progress, error: undefined, onMessage: undefined, onExit: undefined };
    worker.on('message', (message: FromLoadChecker) => thread.onMessage?.(message));
    worker.on('error', (err) => {
      thread.error = err;
    });
    worker.on('exit', (code) => {
      if (this.thread === thread) this.thread = undefined;
      thread.onExit?.(code);
    });
    return thread;
  }

  /** Takes the thread out of use and terminates it. */
  private abandon(thread: Thread): void {
    if (this.thread === thread) this.thread = undefined;
    thread.onMessage = undefined;
    thread.onExit = undefined;
    void thread.worker.terminate();
  }
}

/** What happened to a thread that failed outside any module. */
function threadFailure(failure: LoadFailure): string {
  switch (failure.kind) {
    case 'heap':
      return 'the load-check thread ran out of heap';
    case 'exit':
      return `the load-check thread exited (code ${failure.code}${failure.detail ? `: ${failure.detail}` : ''})`;
    default:
      return 'the load-check thread stopped answering';
  }
}
