import type { ConnectionEntry } from '@laneway/connectors';
import type { ThreadSpan } from '@laneway/lanes/tracing';
import type { HttpRequestInfo, InvocationErrorCode } from '@laneway/sdk';
import type { HeapLimit } from '../load/describe-load-failure';
import type { ServiceCode } from '../registry/service-registry';

/** Messages from the main thread to a CPU-lane thread. */
export type ToCpuThread =
  | { t: 'stage'; specs: ServiceCode[] }
  | { t: 'commit' }
  | { t: 'abort' }
  /** The cluster's connections (secrets included), for the thread's own pools; the whole set each time. */
  | { t: 'connections'; entries: ConnectionEntry[] }
  /** `tp`: the W3C traceparent of the span the run continues, when tracing is on. */
  | { t: 'run'; id: number; service: string; input: unknown; invocationId: string; deadline: number; http?: HttpRequestInfo; tp?: string }
  | { t: 'invoke-result'; id: number; ok: true; output: unknown }
  | { t: 'invoke-result'; id: number; ok: false; code: InvocationErrorCode; message: string; retryable?: false }
  /** Check an input against a service's input schema only (an async call, before it is queued). */
  | { t: 'check'; id: number; service: string; input: unknown };

/** Messages from a CPU-lane thread to the main thread. */
export type FromCpuThread =
  /** `tid`: the thread's Linux thread id, when it could read it. */
  | { t: 'ready'; niced: boolean; tid: number | undefined }
  /** `chrt` could not put the thread under SCHED_IDLE (it stays at nice 19). */
  | { t: 'sched-failed'; error: string }
  | { t: 'staged'; errors: { service: string; message: string }[]; schemas: StagedSchemas[] }
  | { t: 'done'; id: number; ok: true; output: unknown; version: string; heapMb: number }
  | { t: 'done'; id: number; ok: false; code: InvocationErrorCode; message: string; retryable?: false; version?: string; heapMb: number }
  /** The answer to `check`: `message` says why the schema refused the input (ok when it fits or the service has no schema). */
  | { t: 'checked'; id: number; ok: true }
  | { t: 'checked'; id: number; ok: false; message: string }
  /** `tp`: the traceparent of the thread's `ctx.invoke` span, when tracing is on. */
  | { t: 'invoke'; id: number; service: string; input: unknown; timeoutMs: number | undefined; async: boolean; tp?: string }
  /** Finished spans (tracing on), exported by the main thread. */
  | { t: 'spans'; spans: ThreadSpan[] }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: Record<string, unknown>; message: string };

/** JSON Schemas of a service's input and output (see json-schemas-of.ts); either may be absent. */
export interface ServiceJsonSchemas {
  input?: Record<string, unknown>;
  output?: Record<string, unknown>;
}

/**
 * The schemas of one staged service, sent with `staged` only for the versions the thread evaluated
 * for that stage (each thread converts a version once) and only when it has a schema.
 */
export interface StagedSchemas extends ServiceJsonSchemas {
  service: string;
  version: string;
}

/**
 * How a CPU thread lowers its priority: 'nice' is nice 19; 'idle' is nice 19 and the SCHED_IDLE policy
 * (LANEWAY_CPU_SCHED).
 */
export type CpuSched = 'idle' | 'nice';

/** Static data every CPU thread gets at start. */
export interface CpuThreadData {
  cluster: string;
  server: string;
}

/** What the pool adds for each thread it starts. */
export interface CpuThreadInit extends CpuThreadData {
  /** A LoadProgress buffer: the spec (index in the `stage` message) whose module is loading. */
  progress: SharedArrayBuffer;
  /** Bound on each module's top-level code while staging. */
  loadTimeoutMs: number;
  /** The heap at which V8 stops the thread, if limited. */
  heap: HeapLimit | undefined;
  sched: CpuSched;
  /** Tracing is on in the main thread: the thread makes spans of its runs and posts them back. */
  tracing: boolean;
}
