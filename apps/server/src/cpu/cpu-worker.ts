// Entry point of a CPU-lane worker thread (bundled to cpu-worker.js beside the server's main.js).
// One long-lived dispatcher per thread: it loads every CPU-lane service once and runs one job at a
// time. The main thread enforces deadlines by terminating the thread.
import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Connectors } from '@laneway/connectors';
import { startThreadTracing, tracing } from '@laneway/lanes/tracing';
import { ServiceInvocationError, validateWithSchema, type HttpRequestInfo, type ServiceDefinition, type ServiceLogger } from '@laneway/sdk';
import type { Span } from '@opentelemetry/api';
import { evaluateServiceModules, moduleSetKeys, retainSharedModules } from '@laneway/runtime';
import { InvocationContext, type ContextHost } from '../context/invocation-context';
import { jsonSchemasOf } from '../http/json-schemas-of';
import { inputRejection } from '../lanes/input-rejection';
import { notRetryable } from '../lanes/not-retryable';
import { describeLoadFailure } from '../load/describe-load-failure';
import { LoadProgress } from '../load/load-progress';
import { endSpan, traceConnectionCall } from '../tracing/spans';
import type { CpuThreadInit, FromCpuThread, ServiceJsonSchemas, StagedSchemas, ToCpuThread } from './cpu-messages';

interface Loaded {
  version: string;
  definition: ServiceDefinition;
  /** The shared modules (relative imports) its code uses. */
  moduleKeys: string[];
}

const port = parentPort;
if (!port) throw new Error('cpu-worker must run in a worker thread');
const data = workerData as CpuThreadInit;
const progress = new LoadProgress(data.progress);
const send = (message: FromCpuThread): void => port.postMessage(message);
const heapMb = (): number => getHeapStatistics().used_heap_size / 1048576;

let services = new Map<string, Loaded>();
let staged: Map<string, Loaded> | undefined;
const modules = new Map<string, ServiceDefinition[]>();
const pendingInvokes = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; service: string }>();
let invokeSequence = 0;
// This thread's own pools of the cluster's connections (a pool cannot be shared across threads).
const connectors = new Connectors({ server: data.server, traceCall: data.tracing ? traceConnectionCall : undefined });
const logAt =
  (level: 'debug' | 'info' | 'warn' | 'error', base: Record<string, unknown>) =>
  (fields: Record<string, unknown>, message: string): void =>
    send({ t: 'log', level, fields: { ...base, ...fields }, message });
/** What the contexts of this thread's jobs call: the main thread for invocations and logs, this thread's pools. */
const host: ContextHost = {
  cluster: data.cluster,
  server: data.server,
  invoke: (target, input, timeoutMs, deadline, span) => callMain(target, input, timeoutMs ?? (deadline ? Math.max(1, deadline - Date.now()) : undefined), false, span),
  invokeAsync: (target, input, span) => callMain<string>(target, input, undefined, true, span),
  logger(service, invocationId): ServiceLogger {
    const base = { cluster: data.cluster, server: data.server, service, invocationId };
    return { debug: logAt('debug', base), info: logAt('info', base), warn: logAt('warn', base), error: logAt('error', base) };
  },
  connections: connectors,
};

port.on('message', (message: ToCpuThread) => {
  switch (message.t) {
    case 'stage':
      return stage(message.specs);
    case 'commit':
      if (staged) services = staged;
      staged = undefined;
      pruneModules();
      return;
    case 'abort':
      staged = undefined;
      return;
    case 'connections':
      connectors.replace(message.entries);
      return;
    case 'run':
      void runTraced(message.id, message.service, message.input, message.invocationId, message.deadline, message.http, message.tp);
      return;
    case 'check':
      void check(message.id, message.service, message.input);
      return;
    case 'invoke-result': {
      const pending = pendingInvokes.get(message.id);
      if (!pending) return;
      pendingInvokes.delete(message.id);
      if (message.ok) pending.resolve(message.output);
      else pending.reject(new ServiceInvocationError(message.code, message.message, pending.service, { retryable: message.retryable }));
      return;
    }
  }
});

const tid = ownThreadId();
// With tracing on, the thread's tracer is set up before it says it is ready (so its first job is traced).
const tracingReady: Promise<unknown> = data.tracing ? startThreadTracing((spans) => send({ t: 'spans', spans })) : Promise.resolve();
void tracingReady.then(() => {
  send({ t: 'ready', niced: lowerOwnPriority(tid), tid });
  if (data.sched === 'idle' && tid !== undefined) enterSchedIdle(tid);
});

/** Runs a job; with tracing on, inside a span of its own (child of the `run` message's traceparent). */
function runTraced(
  id: number,
  name: string,
  input: unknown,
  invocationId: string,
  deadline: number,
  http: HttpRequestInfo | undefined,
  tp: string | undefined,
): Promise<void> {
  const t = tracing();
  if (!t) return run(id, name, input, invocationId, deadline, http);
  const span = t.tracer.startSpan(
    `run ${name}`,
    {
      kind: t.api.SpanKind.INTERNAL,
      attributes: { 'laneway.service': name, 'laneway.lane': 'cpu', 'laneway.invocation_id': invocationId, 'laneway.server': data.server, 'thread.id': tid ?? -1 },
    },
    t.extract(tp),
  );
  return t.api.context.with(t.api.trace.setSpan(t.api.ROOT_CONTEXT, span), () => run(id, name, input, invocationId, deadline, http, (error) => endSpan(t, span, error)));
}

function stage(specs: { name: string; version: string; path: string; code: string }[]): void {
  // One spec per version this thread does not hold yet: a file exporting several services loads once.
  const fresh = new Map<string, number>();
  specs.forEach((spec, i) => {
    if (!modules.has(spec.version) && !fresh.has(spec.version)) fresh.set(spec.version, i);
  });
  const freshSpecs = [...fresh.values()];
  const outcomes = evaluateServiceModules(
    freshSpecs.map((i) => ({ code: specs[i]!.code, filename: specs[i]!.path })),
    // The spec's index, so that the pool can name it if this thread dies or hangs in its module.
    { timeoutMs: data.loadTimeoutMs, onModule: (n) => progress.enter(freshSpecs[n]!) },
  );
  const failed = new Map<string, string>();
  outcomes.forEach((outcome, n) => {
    const spec = specs[freshSpecs[n]!]!;
    if (outcome.ok) modules.set(spec.version, outcome.services);
    else failed.set(spec.version, describeLoadFailure(spec.path, { kind: 'module', error: outcome.error, timeoutMs: data.loadTimeoutMs, heap: data.heap }));
  });
  const next = new Map<string, Loaded>();
  const errors: { service: string; message: string }[] = [];
  const schemas: StagedSchemas[] = [];
  specs.forEach((spec, i) => {
    const failure = failed.get(spec.version);
    const definition = failure === undefined ? modules.get(spec.version)!.find((d) => d.name === spec.name) : undefined;
    if (!definition) {
      errors.push({ service: spec.name, message: failure ?? `${spec.path} does not export a service named '${spec.name}'` });
      return;
    }
    next.set(spec.name, { version: spec.version, definition, moduleKeys: moduleSetKeys(spec.code) });
    // For /openapi.json on the main thread, which holds no CPU-lane definition: converted once, when
    // this thread evaluates the version. (Progress entered so that a conversion that hangs is blamed
    // on this module, like its top level.)
    if (fresh.has(spec.version)) {
      progress.enter(i);
      const found = plainSchemasOf(definition);
      if (found) schemas.push({ service: spec.name, version: spec.version, ...found });
    }
  });
  staged = errors.length ? undefined : next;
  progress.finish();
  // Also when the set is rejected: this thread keeps the modules it evaluated, and will not convert
  // them again if a later set has them.
  send({ t: 'staged', errors, schemas });
}

/** A definition's JSON Schemas as plain JSON (so they can be posted), or undefined when it has none. */
function plainSchemasOf(definition: ServiceDefinition): ServiceJsonSchemas | undefined {
  try {
    const { input, output } = jsonSchemasOf(definition);
    if (!input && !output) return undefined;
    return JSON.parse(JSON.stringify({ input, output })) as ServiceJsonSchemas;
  } catch {
    // A schema object that throws when asked, or a JSON Schema with cycles: left out of the document.
    return undefined;
  }
}

function pruneModules(): void {
  const live = new Set([...services.values()].map((s) => s.version));
  for (const version of modules.keys()) if (!live.has(version)) modules.delete(version);
  retainSharedModules([...services.values()].flatMap((s) => s.moduleKeys));
}

async function run(
  id: number,
  name: string,
  input: unknown,
  invocationId: string,
  deadline: number,
  http: HttpRequestInfo | undefined,
  traced?: (error: unknown) => void,
): Promise<void> {
  // With tracing, the span ends before 'done' is posted: it leaves with the next batch of spans.
  const done = (message: Extract<FromCpuThread, { t: 'done' }>): void => {
    traced?.(message.ok ? undefined : { message: message.message, code: message.code });
    send(message);
  };
  const loaded = services.get(name);
  if (!loaded) {
    done({ t: 'done', id, heapMb: heapMb(), ok: false, code: 'NOT_FOUND', message: `service '${name}' is not loaded in the CPU lane of server '${data.server}'` });
    return;
  }
  const { definition, version } = loaded;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
  try {
    let value = input;
    if (definition.input) {
      try {
        value = await validateWithSchema(definition.input, input);
      } catch (err) {
        done({ t: 'done', id, heapMb: heapMb(), ok: false, code: 'INVALID_ARGUMENT', message: inputRejection(name, err), version });
        return;
      }
    }
    const ctx = new InvocationContext(host, name, version, invocationId, deadline, http, definition.connections ?? [], controller.signal);
    const output = await definition.handle(value, ctx);
    done({ t: 'done', id, heapMb: heapMb(), ok: true, output: output ?? null, version });
  } catch (err) {
    const code = err instanceof ServiceInvocationError ? err.code : 'SERVICE_FAILED';
    const message = err instanceof ServiceInvocationError ? err.message : `service '${name}' failed: ${(err as Error)?.message ?? String(err)}`;
    done({ t: 'done', id, heapMb: heapMb(), ok: false, code, message, ...(notRetryable(err) ? { retryable: false as const } : {}), version });
  } finally {
    clearTimeout(timer);
  }
}

/** Checks an input against a service's input schema only, for an async call about to be queued. */
async function check(id: number, name: string, input: unknown): Promise<void> {
  const schema = services.get(name)?.definition.input;
  try {
    if (schema) await validateWithSchema(schema, input);
    send({ t: 'checked', id, ok: true });
  } catch (err) {
    send({ t: 'checked', id, ok: false, message: inputRejection(name, err) });
  }
}

/** Asks the main thread to invoke a service (it owns the Redis connections and the registry). */
function callMain<T>(service: string, input: unknown, timeoutMs: number | undefined, async: boolean, span: Span | undefined): Promise<T> {
  const id = ++invokeSequence;
  return new Promise<T>((resolve, reject) => {
    pendingInvokes.set(id, { resolve: resolve as (v: unknown) => void, reject, service });
    const tp = tracing()?.traceparent(span);
    send(tp ? { t: 'invoke', id, service, input: input ?? null, timeoutMs, async, tp } : { t: 'invoke', id, service, input: input ?? null, timeoutMs, async });
  });
}

/** This thread's Linux thread id (not the process id), or undefined when /proc cannot tell. */
function ownThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowers this thread (not the process) to nice 19 so the event loop that serves the network lane,
 * the sync stream and BullMQ's lock renewals always wins the CPU. Measured on 2 cores: network p99
 * 18 ms -> 12 ms under a saturated CPU lane, with the same CPU-lane throughput.
 */
function lowerOwnPriority(tid: number | undefined): boolean {
  if (tid === undefined) return false;
  try {
    os.setPriority(tid, 19);
    return true;
  } catch {
    return false;
  }
}

/**
 * Also puts this thread under SCHED_IDLE (LANEWAY_CPU_SCHED=idle): nice 19 only gives the thread a
 * small weight, so a waking main event loop may still wait for its slice to end; a SCHED_IDLE thread is
 * preempted at once by any normal thread that becomes runnable (network p99 10.6 ms against 12.2 ms
 * at nice 19 and 8.5 ms idle, on 2 cores). Node has no API for it; util-linux's chrt sets it for one
 * thread without privileges (lowering is always allowed). Asynchronous, from this thread, so the fork
 * never blocks the main event loop and the thread takes jobs meanwhile; the thread keeps its nice 19
 * (SCHED_IDLE leaves the nice value as it is), and stays at just that when chrt is missing or fails.
 */
function enterSchedIdle(tid: number): void {
  try {
    execFile('chrt', ['-i', '-p', '0', String(tid)], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) send({ t: 'sched-failed', error: String(stderr).trim() || err.message });
    });
  } catch (err) {
    send({ t: 'sched-failed', error: (err as Error)?.message ?? String(err) });
  }
}
