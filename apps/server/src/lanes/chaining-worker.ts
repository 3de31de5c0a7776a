import { Worker, type Job } from 'bullmq';

/** The parts of BullMQ's Worker this loop drives that its type declarations keep private. */
interface WorkerInternals<T> {
  mainLoopQueue: { add(promise: Promise<unknown>): void } | null;
  closing: Promise<void> | undefined;
  paused: boolean;
  id: string;
  opts: { runRetryDelay?: number };
  _getNextJob(token: string, options: { block: boolean }): Promise<Job<T> | undefined>;
  retryIfFailed<R>(fn: () => Promise<R>, options: { delayInMs?: number; onlyEmitError?: boolean }): Promise<R | undefined>;
  isRateLimited(): boolean;
  waitForRateLimit(): Promise<void>;
}

/** BullMQ's own methods this loop stands in for or calls; a BullMQ without one of them would run its own loop unnoticed. */
const INTERNALS = ['mainLoop', '_getNextJob', 'retryIfFailed', 'isRateLimited', 'waitForRateLimit', 'processJob'] as const;

/**
 * A BullMQ Worker whose main loop starts every job the moment it has it. BullMQ's own loop (6.7)
 * hands each job back through one FIFO, a job that a finishing one fetched for it included, and takes
 * one from it per turn of a loop that awaits a Redis fetch each turn: under load the jobs already
 * fetched (20-40 at 100 calls in flight) waited there for fetch round trips. Here each slot runs its
 * job and then the next one that finishing it fetched (BullMQ's fetchNext), with no hand-back, and the
 * loop only fetches for slots that are free. Pause, resume, close and the blocking fetch are BullMQ's:
 * this replaces `mainLoop` alone and keeps its contract (run until closing or paused, then until the
 * running jobs end; `mainLoopQueue.add` wakes it).
 */
export class ChainingWorker<T> extends Worker<T> {
  constructor(...args: ConstructorParameters<typeof Worker<T>>) {
    super(...args);
    const proto = Worker.prototype as unknown as Record<string, unknown>;
    const missing = INTERNALS.filter((name) => typeof proto[name] !== 'function');
    if (missing.length) throw new Error(`this BullMQ Worker has no ${missing.join(', ')}: the chaining loop needs it (written against BullMQ 6.7)`);
    // `mainLoop` is private in BullMQ's declarations: replaced on the instance, where `run()` finds it.
    (this as unknown as { mainLoop: () => Promise<void> }).mainLoop = () => this.chainingLoop();
  }

  private async chainingLoop(): Promise<void> {
    const self = this as unknown as WorkerInternals<T>;
    /** Slots in use: each runs one job and then the ones that finishing it fetched. */
    let slots = 0;
    let wake: (() => void) | undefined;
    const signal = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const hook = { add: (p: Promise<unknown>) => void p.then(signal, signal) };
    self.mainLoopQueue = hook;
    let tokenPostfix = 0;
    // As BullMQ's: a finishing job fetches the next one while this worker holds no more than its concurrency.
    const fetchNext = (): boolean => slots <= this.concurrency;
    const start = async (job: Job<T>): Promise<void> => {
      slots++;
      try {
        let next: Job<T> | void = job;
        while (next) next = await this.processJob(next, next.token!, fetchNext);
      } catch (err) {
        this.emit('error', err instanceof Error ? err : new Error(String(err)));
      } finally {
        slots--;
        signal();
      }
    };
    const live = (): boolean => !self.closing && !self.paused;
    while (live() || slots > 0) {
      if (live() && slots < this.concurrency) {
        if (self.isRateLimited()) {
          await self.waitForRateLimit();
          continue;
        }
        const token = `${self.id}:${tokenPostfix++}`;
        const job = await self.retryIfFailed(() => self._getNextJob(token, { block: true }), { delayInMs: self.opts.runRetryDelay, onlyEmitError: true });
        if (job) void start(job);
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (self.mainLoopQueue === hook) self.mainLoopQueue = null;
  }
}
