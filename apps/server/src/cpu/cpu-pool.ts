import { Worker } from 'node:worker_threads';
import type { InvocationErrorCode } from '@laneway/sdk';
import type { Logger } from 'pino';
import type { ServiceCode } from '../registry/service-registry';
import type { CpuThreadData, FromCpuThread, ToCpuThread } from './cpu-messages';

export type CpuRunResult =
  | { ok: true; output: unknown; version: string }
  | { ok: false; code: InvocationErrorCode; message: string; version?: string };

export interface CpuPoolOptions {
  size: number;
  /** The bundled cpu-worker.js. */
  workerPath: string;
  threadData: CpuThreadData;
  logger: Logger;
  /** Serves `ctx.invoke` (and, with `async`, `ctx.invokeAsync`) calls made by CPU-lane services. */
  onInvoke: (service: string, input: unknown, timeoutMs: number | undefined, async: boolean) => Promise<unknown>;
  /**
   * A thread whose heap exceeds this after a job is replaced (gracefully: between jobs). Twice this is
   * the hard limit at which V8 stops the thread mid-job.
   */
  recycleAboveHeapMb?: number;
}

interface Task {
  id: number;
  service: string;
  input: unknown;
  invocationId: string;
  deadline: number;
  resolve: (result: CpuRunResult) => void;
}

interface Slot {
  worker: Worker;
  /** Ready: started and holding the committed services. */
  ready: boolean;
  task: Task | undefined;
  timer: NodeJS.Timeout | undefined;
  stageWaiter: ((errors: { service: string; message: string }[]) => void) | undefined;
}

/**
 * A fixed pool of worker threads for the CPU lane. Each thread runs one job at a time; a job past its
 * deadline gets its thread terminated and replaced, and the caller a DEADLINE_EXCEEDED error.
 */
export class CpuPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private committed: ServiceCode[] = [];
  private sequence = 0;
  private closing = false;
  private readonly log: Logger;

  constructor(private readonly options: CpuPoolOptions) {
    this.log = options.logger.child({ lane: 'cpu' });
  }

  get size(): number {
    return this.options.size;
  }

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.size }, () => this.spawn()));
  }

  /**
   * Loads a new set of CPU-lane services in every thread, atomically: if any thread fails to load
   * anything, every thread keeps its previous set and the errors are returned.
   */
  async apply(specs: ServiceCode[]): Promise<{ service: string; message: string }[]> {
    // A push that changes only network-lane services leaves the threads alone: a round trip to each
    // of them (they run at nice 19) can take tens of milliseconds while the machine is busy deploying.
    if (sameServices(specs, this.committed)) return [];
    const slots = [...this.slots].filter((s) => s.ready);
    const results = await Promise.all(slots.map((slot) => this.stage(slot, specs)));
    const errors = results.flat();
    const unique = new Map(errors.map((e) => [`${e.service}\u0000${e.message}`, e]));
    for (const slot of slots) this.post(slot, { t: errors.length ? 'abort' : 'commit' });
    if (!errors.length) this.committed = specs;
    return [...unique.values()];
  }

  run(service: string, input: unknown, invocationId: string, deadline: number): Promise<CpuRunResult> {
    if (this.closing) {
      return Promise.resolve({ ok: false, code: 'UNAVAILABLE', message: 'the server is shutting down' });
    }
    return new Promise((resolve) => {
      this.queue.push({ id: ++this.sequence, service, input, invocationId, deadline, resolve });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const task of this.queue.splice(0)) {
      task.resolve({ ok: false, code: 'UNAVAILABLE', message: 'the server is shutting down' });
    }
    await Promise.all([...this.slots].map((slot) => slot.worker.terminate()));
    this.slots.clear();
  }

  private spawn(): Promise<void> {
    const worker = new Worker(this.options.workerPath, {
      workerData: this.options.threadData,
      resourceLimits: this.options.recycleAboveHeapMb
        ? { maxOldGenerationSizeMb: 2 * this.options.recycleAboveHeapMb }
        : undefined,
    });
    const slot: Slot = { worker, ready: false, task: undefined, timer: undefined, stageWaiter: undefined };
    this.slots.add(slot);
    return new Promise((resolve) => {
      worker.on('message', (message: FromCpuThread) => {
        if (message.t === 'ready') {
          if (!message.niced) this.log.warn({}, 'could not lower the CPU thread priority; network work may slow down');
          // A new thread (first start or replacement) loads the committed set before taking jobs.
          this.stage(slot, this.committed).then(
            (errors) => {
              this.post(slot, { t: 'commit' });
              if (errors.length) this.log.error({ errors }, 'a new CPU thread failed to load services');
              slot.ready = true;
              resolve();
              this.dispatch();
            },
            () => resolve(),
          );
          return;
        }
        this.onMessage(slot, message);
      });
      worker.on('error', (err) => {
        this.log.error({ err }, 'CPU thread crashed');
      });
      worker.on('exit', (code) => {
        this.slots.delete(slot);
        if (slot.timer) clearTimeout(slot.timer);
        slot.stageWaiter?.([]);
        const task = slot.task;
        slot.task = undefined;
        if (task) {
          task.resolve({
            ok: false,
            code: 'UNAVAILABLE',
            message: `service '${task.service}' crashed its CPU-lane thread (exit code ${code})`,
          });
        }
        resolve();
        if (!this.closing) void this.spawn();
      });
    });
  }

  private stage(slot: Slot, specs: ServiceCode[]): Promise<{ service: string; message: string }[]> {
    return new Promise((resolve) => {
      slot.stageWaiter = (errors) => {
        slot.stageWaiter = undefined;
        resolve(errors);
      };
      this.post(slot, { t: 'stage', specs });
    });
  }

  private onMessage(slot: Slot, message: FromCpuThread): void {
    switch (message.t) {
      case 'staged':
        slot.stageWaiter?.(message.errors);
        return;
      case 'done': {
        const task = slot.task;
        if (!task || task.id !== message.id) return;
        clearTimeout(slot.timer);
        slot.task = undefined;
        slot.timer = undefined;
        task.resolve(
          message.ok
            ? { ok: true, output: message.output, version: message.version }
            : { ok: false, code: message.code, message: message.message, version: message.version },
        );
        const limit = this.options.recycleAboveHeapMb;
        if (limit && message.heapMb > limit) {
          this.log.info({ heapMb: Math.round(message.heapMb), limitMb: limit }, 'recycling a CPU thread whose heap grew past its limit');
          slot.ready = false;
          // 'exit' spawns the replacement.
          void slot.worker.terminate();
        }
        this.dispatch();
        return;
      }
      case 'invoke':
        this.options.onInvoke(message.service, message.input, message.timeoutMs, message.async).then(
          (output) => this.post(slot, { t: 'invoke-result', id: message.id, ok: true, output }),
          (err: { code?: InvocationErrorCode; message?: string }) =>
            this.post(slot, {
              t: 'invoke-result',
              id: message.id,
              ok: false,
              code: err.code ?? 'SERVICE_FAILED',
              message: err.message ?? String(err),
            }),
        );
        return;
      case 'log':
        this.log[message.level](message.fields, message.message);
        return;
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (!slot.ready || slot.task) continue;
      const task = this.queue.shift()!;
      const remaining = task.deadline - Date.now();
      if (remaining <= 0) {
        task.resolve({ ok: false, code: 'DEADLINE_EXCEEDED', message: `service '${task.service}' expired before a CPU thread was free` });
        continue;
      }
      slot.task = task;
      slot.timer = setTimeout(() => this.kill(slot, task, remaining), remaining);
      this.post(slot, { t: 'run', id: task.id, service: task.service, input: task.input, invocationId: task.invocationId, deadline: task.deadline });
    }
  }

  private kill(slot: Slot, task: Task, ranMs: number): void {
    if (slot.task !== task) return;
    slot.task = undefined;
    // Terminating is asynchronous: the slot must take no job until 'exit' replaces it.
    slot.ready = false;
    this.log.warn({ service: task.service, deadlineMs: ranMs }, 'CPU-lane job ran past its deadline; terminating its thread');
    task.resolve({
      ok: false,
      code: 'DEADLINE_EXCEEDED',
      message: `service '${task.service}' ran past its deadline of ${ranMs} ms; its CPU thread was terminated`,
    });
    // 'exit' spawns the replacement.
    void slot.worker.terminate();
  }

  private post(slot: Slot, message: ToCpuThread): void {
    slot.worker.postMessage(message);
  }
}

/** Whether two sets of CPU-lane services hold the same names with the same code from the same paths. */
function sameServices(a: readonly ServiceCode[], b: readonly ServiceCode[]): boolean {
  if (a.length !== b.length) return false;
  const loaded = new Map(b.map((s) => [s.name, `${s.version}\u0000${s.path}`]));
  return a.every((s) => loaded.get(s.name) === `${s.version}\u0000${s.path}`);
}
