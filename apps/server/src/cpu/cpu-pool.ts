import { Worker } from 'node:worker_threads';
import type { ConnectionEntry } from '@laneway/connectors';
import { tracing } from '@laneway/lanes';
import type { HttpRequestInfo, InvocationErrorCode } from '@laneway/sdk';
import type { Logger } from 'pino';
import { describeLoadFailure, type HeapLimit, type LoadFailure } from '../load/describe-load-failure';
import { LoadProgress } from '../load/load-progress';
import type { ServiceCode } from '../registry/service-registry';
import type { CpuSched, CpuThreadData, CpuThreadInit, FromCpuThread, ServiceJsonSchemas, ToCpuThread } from './cpu-messages';

export type CpuRunResult =
  | { ok: true; output: unknown; version: string }
  | { ok: false; code: InvocationErrorCode; message: string; retryable?: false; version?: string };

/** What {@link CpuPool.checkInput} answers: the input fits (or the service has no schema), or why not. */
export type CpuInputCheck = { ok: true } | { ok: false; message: string };

export interface CpuPoolOptions {
  size: number;
  /** The bundled cpu-worker.js. */
  workerPath: string;
  threadData: CpuThreadData;
  logger: Logger;
  /** Serves `ctx.invoke` (and, with `async`, `ctx.invokeAsync`) calls made by CPU-lane services. */
  onInvoke: (service: string, input: unknown, timeoutMs: number | undefined, async: boolean, traceparent: string | undefined) => Promise<unknown>;
  /**
   * A thread whose heap exceeds this after a job is replaced (gracefully: between jobs). Twice this is
   * the hard limit at which V8 stops the thread mid-job.
   */
  recycleAboveHeapMb?: number;
  /**
   * Bound on each module's top-level code while a thread loads services (LANEWAY_LOAD_TIMEOUT_MS);
   * default 2000. A thread that does not stop at it is terminated and replaced.
   */
  loadTimeoutMs?: number;
  /**
   * How each thread lowers its priority when it starts (LANEWAY_CPU_SCHED): 'idle' (default) is nice 19
   * and SCHED_IDLE (set through util-linux's chrt; nice 19 alone if that fails), 'nice' is nice 19 only.
   */
  sched?: CpuSched;
}

interface Task {
  id: number;
  service: string;
  input: unknown;
  invocationId: string;
  deadline: number;
  http: HttpRequestInfo | undefined;
  /** The traceparent the thread's span continues (tracing on). */
  tp: string | undefined;
  resolve: (result: CpuRunResult) => void;
}

interface Slot {
  worker: Worker;
  /** Ready: started, holding the services of `generation`, and not loading anything. */
  ready: boolean;
  /** Which committed set the thread holds (0: none yet). */
  generation: number;
  task: Task | undefined;
  timer: NodeJS.Timeout | undefined;
  stageWaiter: ((errors: { service: string; message: string }[]) => void) | undefined;
  /** The specs being staged, which the thread's progress indexes. */
  staging: ServiceCode[] | undefined;
  progress: LoadProgress;
  /** The thread's uncaught error ('error' comes before 'exit'). */
  error: Error | undefined;
  /** Being terminated (retired, recycled or killed): it no longer counts towards the pool's size. */
  leaving: boolean;
  /** The thread's Linux thread id, once it reported it. */
  tid: number | undefined;
  /** Input checks posted to the thread and not answered yet, by id. */
  checks: Map<number, (check: CpuInputCheck) => void>;
}

type LoadErrors = { service: string; message: string }[];

// A thread's own vm watchdog stops a module at the timeout; this is how much later it counts as stuck.
const STUCK_GRACE_MS = 1000;

/**
 * A fixed pool of worker threads for the CPU lane. Each thread runs one job at a time; a job past its
 * deadline gets its thread terminated and replaced, and the caller a DEADLINE_EXCEEDED error.
 *
 * A new set of services is loaded by the idle threads; a thread busy with a job reads no message
 * until the job ends, so it is not waited for: it finishes its job with the set the job started with
 * and loads the new one before it takes another. When every thread is busy, one more thread is
 * started to load (and so validate) the new set, ready for the next job; the pool shrinks back to its
 * size as the busy threads finish. So a deploy never waits for a long CPU job.
 */
export class CpuPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private committed: ServiceCode[] = [];
  /** The connections every thread holds (see setConnections). */
  private connections: ConnectionEntry[] = [];
  /** The committed set's versions, by service name. */
  private committedVersions = new Map<string, string>();
  /**
   * JSON Schemas the threads reported, by version and service name: of the committed set, and of
   * any set staged since (a thread converts a version only once, when it first evaluates it, so what
   * a rejected set brought is kept until the next commit). Only services that have a schema.
   */
  private schemas = new Map<string, ServiceJsonSchemas>();
  /** Bumped by every committed set; a thread whose generation is older reloads before its next job. */
  private generation = 0;
  private sequence = 0;
  private closing = false;
  /** A thread could not be put under SCHED_IDLE: said once, not at every thread start. */
  private schedFailureLogged = false;
  private readonly log: Logger;

  constructor(private readonly options: CpuPoolOptions) {
    this.log = options.logger.child({ lane: 'cpu' });
  }

  get size(): number {
    return this.options.size;
  }

  /** Threads alive now: `size`, or one more for a while after a set was loaded while all were busy. */
  get threads(): number {
    return this.slots.size;
  }

  /** The Linux thread ids of the threads alive now that reported one (diagnostics, tests). */
  get threadIds(): number[] {
    return [...this.slots].flatMap((slot) => (slot.tid === undefined ? [] : [slot.tid]));
  }

  /** Threads running a job now. */
  get busyThreads(): number {
    let busy = 0;
    for (const slot of this.slots) if (slot.task) busy++;
    return busy;
  }

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.size }, () => this.addThread()));
  }

  /**
   * Loads a new set of CPU-lane services, atomically: the idle threads (or, when every thread is
   * busy, one extra thread) load it; if any of them fails to load anything, every thread keeps its
   * previous set and the errors are returned. Busy threads load the set once their job ends.
   */
  async apply(specs: ServiceCode[]): Promise<LoadErrors> {
    // A push that changes only network-lane services leaves the threads alone: a round trip to each
    // of them (they run at nice 19, under SCHED_IDLE by default) can take tens of milliseconds while
    // the machine is busy deploying.
    if (sameServices(specs, this.committed)) return [];
    let loaders = [...this.slots].filter((s) => s.ready && !s.task);
    let extra: Slot | undefined;
    if (!loaders.length) {
      extra = await this.spawn();
      loaders = [extra];
    }
    // Out of dispatch while they load: a job would otherwise start between 'stage' and 'commit'.
    for (const slot of loaders) slot.ready = false;
    const errors = (await Promise.all(loaders.map((slot) => this.stage(slot, specs)))).flat();
    // Every thread loads the set: one error per service (two threads may tell one blow-up differently,
    // one out of heap, the other at the deadline near the limit).
    const unique = [...new Map(errors.map((e) => [e.service, e])).values()];
    if (errors.length) {
      for (const slot of loaders) this.post(slot, { t: 'abort' });
      if (extra) this.retire(extra);
      for (const slot of loaders) if (slot !== extra) this.settle(slot);
      return unique;
    }
    this.committed = specs;
    this.committedVersions = new Map(specs.map((s) => [s.name, s.version]));
    for (const key of this.schemas.keys()) {
      const [version, name] = key.split('\u0000');
      if (this.committedVersions.get(name!) !== version) this.schemas.delete(key);
    }
    this.generation++;
    for (const slot of loaders) {
      this.post(slot, { t: 'commit' });
      slot.generation = this.generation;
    }
    for (const slot of loaders) this.settle(slot);
    // A thread that finished loading the previous set while the loaders staged this one became ready
    // with it: it loads this one before it takes a job.
    for (const slot of this.slots) if (slot.ready && !slot.task && slot.generation !== this.generation) this.settle(slot);
    if (extra) this.log.info({ threads: this.slots.size }, 'every CPU thread was busy: an extra thread loaded the new services');
    return [];
  }

  /**
   * Gives every thread (and every thread started later) the cluster's connections, for pools of its
   * own. Called before the services that use a new connection are committed, so that a thread hears
   * of a connection before any job of a service that declares it.
   */
  setConnections(entries: ConnectionEntry[]): void {
    // Most pushes leave the connections as they were: no message (with the secrets) to every thread.
    const key = (list: ConnectionEntry[]): string => list.map((e) => `${e.name}\u0000${e.version}`).sort().join('\u0001');
    if (key(entries) === key(this.connections)) return;
    this.connections = entries;
    for (const slot of this.slots) this.post(slot, { t: 'connections', entries });
  }

  /**
   * The JSON Schemas of a committed CPU-lane service's input and output, as its threads converted
   * them (for /openapi.json); empty when it has none or is not loaded here.
   */
  schemasOf(service: string): ServiceJsonSchemas {
    const version = this.committedVersions.get(service);
    return (version !== undefined && this.schemas.get(schemaKey(version, service))) || {};
  }

  /**
   * True when a job given now would start at once: a thread holding the committed set is idle and
   * no job is waiting for one.
   */
  get hasIdleThread(): boolean {
    if (this.closing) return false;
    let idle = 0;
    for (const slot of this.slots) if (slot.ready && !slot.task && slot.generation === this.generation) idle++;
    return idle > this.queue.length;
  }

  /**
   * Checks `input` against a CPU-lane service's input schema (which lives in the threads) without
   * running it, in a thread that is idle now, so the check waits behind no job. Undefined when no
   * thread is idle (or the pool is closing): the caller goes on unchecked.
   */
  checkInput(service: string, input: unknown): Promise<CpuInputCheck> | undefined {
    if (this.closing || this.queue.length) return undefined;
    for (const slot of this.slots) {
      if (!slot.ready || slot.task || slot.generation !== this.generation) continue;
      const id = ++this.sequence;
      return new Promise((resolve) => {
        slot.checks.set(id, resolve);
        this.post(slot, { t: 'check', id, service, input });
      });
    }
    return undefined;
  }

  run(service: string, input: unknown, invocationId: string, deadline: number, http?: HttpRequestInfo, traceparent?: string): Promise<CpuRunResult> {
    if (this.closing) {
      return Promise.resolve({ ok: false, code: 'UNAVAILABLE', message: 'the server is shutting down' });
    }
    return new Promise((resolve) => {
      this.queue.push({ id: ++this.sequence, service, input, invocationId, deadline, http, tp: traceparent, resolve });
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

  /** Starts a thread that loads the committed set and then takes jobs. */
  private async addThread(): Promise<void> {
    const slot = await this.spawn();
    // A new thread holds no services: with none committed it has nothing to load, and a server's
    // start does not wait on a round trip to a thread already at idle priority (on busy cores,
    // seconds).
    if (this.committed.length === 0) {
      slot.generation = this.generation;
      this.settle(slot);
      return;
    }
    await this.refresh(slot);
  }

  /** Starts a thread; resolves once it runs, holding no services (not ready). */
  private spawn(): Promise<Slot> {
    const progress = new LoadProgress();
    const workerData: CpuThreadInit = {
      ...this.options.threadData,
      progress: progress.buffer,
      loadTimeoutMs: this.loadTimeoutMs,
      heap: this.heapLimit,
      sched: this.options.sched ?? 'idle',
      tracing: tracing() !== undefined,
    };
    const worker = new Worker(this.options.workerPath, {
      workerData,
      resourceLimits: this.options.recycleAboveHeapMb
        ? { maxOldGenerationSizeMb: 2 * this.options.recycleAboveHeapMb }
        : undefined,
    });
    const slot: Slot = {
      worker,
      ready: false,
      generation: 0,
      task: undefined,
      timer: undefined,
      stageWaiter: undefined,
      staging: undefined,
      progress,
      error: undefined,
      leaving: false,
      tid: undefined,
      checks: new Map(),
    };
    this.slots.add(slot);
    return new Promise((resolve) => {
      worker.on('message', (message: FromCpuThread) => {
        if (message.t === 'ready') {
          slot.tid = message.tid;
          if (!message.niced) this.log.warn({}, 'could not lower the CPU thread priority; network work may slow down');
          if (this.connections.length) this.post(slot, { t: 'connections', entries: this.connections });
          resolve(slot);
          return;
        }
        this.onMessage(slot, message);
      });
      worker.on('error', (err) => {
        slot.error = err;
        this.log.error({ err }, 'CPU thread crashed');
      });
      worker.on('exit', (code) => {
        this.slots.delete(slot);
        if (slot.timer) clearTimeout(slot.timer);
        if (slot.stageWaiter) {
          const failure: LoadFailure =
            (slot.error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? { kind: 'heap', heap: this.heapLimit }
              : { kind: 'exit', code, detail: slot.error?.message };
          slot.stageWaiter(this.blame(slot, failure, `a CPU thread exited (code ${code}) while loading services`));
        }
        const task = slot.task;
        slot.task = undefined;
        if (task) {
          task.resolve({
            ok: false,
            code: 'UNAVAILABLE',
            message: `service '${task.service}' crashed its CPU-lane thread (exit code ${code})`,
          });
        }
        // A check the thread never answered lets the call be queued: the worker checks it again.
        for (const answer of slot.checks.values()) answer({ ok: true });
        slot.checks.clear();
        resolve(slot);
        // Replaced unless the pool is still at its size (a retired extra thread, or a busy one
        // retired after an extra thread took its place).
        if (!this.closing && this.staying() < this.options.size) void this.addThread();
      });
    });
  }

  /**
   * Brings an idle thread to the committed set (loading it first if it holds an older one) and then
   * lets it take jobs; a thread the pool no longer needs is retired instead.
   */
  private settle(slot: Slot): void {
    // A thread being terminated takes no job, even before its 'exit'.
    if (!this.slots.has(slot) || slot.leaving) return;
    if (slot.generation !== this.generation && this.staying() > this.options.size) {
      this.retire(slot);
      return;
    }
    if (slot.generation !== this.generation) {
      void this.refresh(slot);
      return;
    }
    slot.ready = true;
    this.dispatch();
  }

  /** Loads the committed set in a thread that holds an older one (or none), then settles it. */
  private async refresh(slot: Slot): Promise<void> {
    slot.ready = false;
    const generation = this.generation;
    const errors = await this.stage(slot, this.committed);
    if (!this.slots.has(slot)) return;
    if (errors.length) {
      // The same code loaded elsewhere: a thread that cannot load it is replaced.
      this.log.error({ errors }, 'a CPU thread failed to load the committed services; replacing it');
      this.retire(slot);
      return;
    }
    this.post(slot, { t: 'commit' });
    slot.generation = generation;
    this.settle(slot);
  }

  /** Stops a thread for good (its 'exit' replaces it only if the pool fell below its size). */
  private retire(slot: Slot): void {
    slot.ready = false;
    slot.leaving = true;
    void slot.worker.terminate();
  }

  /**
   * Threads that are not being terminated. Termination is asynchronous; counting a leaving thread
   * would retire one thread too many and leave the pool short until the replacement starts.
   */
  private staying(): number {
    let n = 0;
    for (const slot of this.slots) if (!slot.leaving) n++;
    return n;
  }

  private stage(slot: Slot, specs: ServiceCode[]): Promise<LoadErrors> {
    if (!this.slots.has(slot)) return Promise.resolve([{ service: '', message: 'a CPU thread exited before it could load services' }]);
    return new Promise((resolve) => {
      const timeoutMs = this.loadTimeoutMs;
      const stopWatching = slot.progress.watch(timeoutMs + STUCK_GRACE_MS, () => {
        this.log.warn({ timeoutMs }, 'a CPU thread did not stop loading at the load timeout; terminating it');
        const errors = this.blame(slot, { kind: 'stuck', timeoutMs }, `a CPU thread did not finish loading services in ${timeoutMs} ms`);
        // Terminating a thread blocked in native code takes effect only when the call returns: do not
        // wait for its 'exit' to replace it.
        this.retire(slot);
        if (!this.closing && this.staying() < this.options.size) void this.addThread();
        slot.stageWaiter?.(errors);
      });
      slot.staging = specs;
      slot.stageWaiter = (errors) => {
        stopWatching();
        slot.stageWaiter = undefined;
        slot.staging = undefined;
        resolve(errors);
      };
      this.post(slot, { t: 'stage', specs });
    });
  }

  /** The errors of a thread that died or hung while staging: every service of the module it was in. */
  private blame(slot: Slot, failure: LoadFailure, unattributed: string): LoadErrors {
    const index = slot.progress.current;
    const culprit = index === undefined ? undefined : slot.staging?.[index];
    if (!culprit) return [{ service: '', message: unattributed }];
    const message = describeLoadFailure(culprit.path, failure);
    return slot.staging!.filter((s) => s.version === culprit.version).map((s) => ({ service: s.name, message }));
  }

  private get loadTimeoutMs(): number {
    return this.options.loadTimeoutMs ?? 2000;
  }

  /** The heap at which V8 stops a thread (twice the recycling limit), if there is one. */
  private get heapLimit(): HeapLimit | undefined {
    const recycleMb = this.options.recycleAboveHeapMb;
    return recycleMb ? { limitMb: 2 * recycleMb, setting: 'twice LANEWAY_CPU_THREAD_MAX_HEAP_MB' } : undefined;
  }

  private onMessage(slot: Slot, message: FromCpuThread): void {
    switch (message.t) {
      case 'staged':
        for (const { service, version, input, output } of message.schemas) this.schemas.set(schemaKey(version, service), { input, output });
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
            : { ok: false, code: message.code, message: message.message, retryable: message.retryable, version: message.version },
        );
        const limit = this.options.recycleAboveHeapMb;
        if (limit && message.heapMb > limit) {
          this.log.info({ heapMb: Math.round(message.heapMb), limitMb: limit }, 'recycling a CPU thread whose heap grew past its limit');
          // 'exit' spawns the replacement.
          this.retire(slot);
          this.dispatch();
          return;
        }
        // A set committed while this thread was busy is loaded before its next job.
        this.settle(slot);
        return;
      }
      case 'invoke':
        this.options.onInvoke(message.service, message.input, message.timeoutMs, message.async, message.tp).then(
          (output) => this.post(slot, { t: 'invoke-result', id: message.id, ok: true, output }),
          (err: { code?: InvocationErrorCode; message?: string; retryable?: unknown }) =>
            this.post(slot, {
              t: 'invoke-result',
              id: message.id,
              ok: false,
              code: err.code ?? 'SERVICE_FAILED',
              message: err.message ?? String(err),
              ...(err.retryable === false ? { retryable: false as const } : {}),
            }),
        );
        return;
      case 'checked': {
        const answer = slot.checks.get(message.id);
        slot.checks.delete(message.id);
        answer?.(message.ok ? { ok: true } : { ok: false, message: message.message });
        return;
      }
      case 'log':
        this.log[message.level](message.fields, message.message);
        return;
      case 'spans':
        tracing()?.exportThreadSpans(message.spans);
        return;
      case 'sched-failed':
        // Every thread would fail alike (no chrt, or a kernel without SCHED_IDLE): warned once.
        if (this.schedFailureLogged) this.log.debug({ tid: slot.tid, error: message.error }, 'could not put a CPU thread under SCHED_IDLE');
        else {
          this.schedFailureLogged = true;
          this.log.warn(
            { tid: slot.tid, error: message.error },
            'could not put the CPU threads under SCHED_IDLE (chrt -i); they run at nice 19 only (LANEWAY_CPU_SCHED=nice silences this)',
          );
        }
        return;
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      // A thread holding an older set is never given a job (apply and settle reload it first).
      if (!slot.ready || slot.task || slot.generation !== this.generation) continue;
      const task = this.queue.shift()!;
      const remaining = task.deadline - Date.now();
      if (remaining <= 0) {
        task.resolve({ ok: false, code: 'DEADLINE_EXCEEDED', message: `service '${task.service}' expired before a CPU thread was free` });
        continue;
      }
      slot.task = task;
      slot.timer = setTimeout(() => this.kill(slot, task, remaining), remaining);
      this.post(slot, {
        t: 'run',
        id: task.id,
        service: task.service,
        input: task.input,
        invocationId: task.invocationId,
        deadline: task.deadline,
        http: task.http,
        tp: task.tp,
      });
    }
  }

  private kill(slot: Slot, task: Task, ranMs: number): void {
    if (slot.task !== task) return;
    slot.task = undefined;
    // Terminating is asynchronous: the slot must take no job until 'exit' replaces it.
    slot.ready = false;
    slot.leaving = true;
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

function schemaKey(version: string, service: string): string {
  return `${version}\u0000${service}`;
}

/** Whether two sets of CPU-lane services hold the same names with the same code from the same paths. */
function sameServices(a: readonly ServiceCode[], b: readonly ServiceCode[]): boolean {
  if (a.length !== b.length) return false;
  const loaded = new Map(b.map((s) => [s.name, `${s.version}\u0000${s.path}`]));
  return a.every((s) => loaded.get(s.name) === `${s.version}\u0000${s.path}`);
}
