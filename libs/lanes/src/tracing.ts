// OpenTelemetry traces for the servers and the control plane. Off unless the standard OTLP endpoint
// variable is set: then startTracing() loads @opentelemetry/api and Laneway's recording tracer and
// OTLP/HTTP exporter (dynamic imports, so a process without the variable never loads them) and
// tracing() returns the process's Tracing. Every instrumentation point asks tracing() first and does
// nothing else when it is undefined: that one check is all tracing costs on the hot path when it is off.
//
// A trace crosses a lane queue as the job's `tp` (a W3C traceparent), and a CPU-lane thread the same
// way in its `run` message; a CPU thread's spans come back to the main thread (ThreadSpan) and leave
// through the main thread's exporter, so the threads open no connections of their own and a thread
// terminated at its deadline loses only the spans of the job it was running.
import type * as OtelApi from '@opentelemetry/api';
import type * as OtelCore from '@opentelemetry/core';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { SpanRecord } from './tracing/recording-tracer';

export type TraceApi = typeof OtelApi;

/** The tracing of this process (or thread), once {@link startTracing} or {@link startThreadTracing} ran. */
export interface Tracing {
  /** @opentelemetry/api, loaded with the tracer (so that code using it loads nothing while tracing is off). */
  readonly api: TraceApi;
  readonly tracer: Tracer;
  /** The W3C traceparent of a span, or of a context's (the active context's by default); undefined when there is none. */
  traceparent(of?: Context | Span): string | undefined;
  /** The root context with `traceparent` (and `tracestate`) as its remote parent; the root context itself when absent or invalid. */
  extract(traceparent: string | undefined, tracestate?: string): Context;
  /** Exports spans a CPU-lane thread made and ended (posted to this thread as plain objects). */
  exportThreadSpans(spans: readonly ThreadSpan[]): void;
  /** Exports what is buffered now. */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** A finished span as a worker thread posts it: the record the exporter sends, plain data only. */
export type ThreadSpan = SpanRecord;

/** The instrumentation scope of every Laneway span. */
export const TRACER_NAME = 'laneway';

/**
 * True when the environment asks for traces: `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set, and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env['OTEL_EXPORTER_OTLP_ENDPOINT'] && !env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) return false;
  if ((env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true') return false;
  return (env['OTEL_TRACES_EXPORTER'] ?? '').trim().toLowerCase() !== 'none';
}

let current: Tracing | undefined;

/** This process's (or thread's) tracing, or undefined while tracing is off. */
export function tracing(): Tracing | undefined {
  return current;
}

export interface StartTracingOptions {
  /** `service.name` when OTEL_SERVICE_NAME is not set. */
  defaultServiceName: string;
  /** More resource attributes (e.g. `service.instance.id`); OTEL_RESOURCE_ATTRIBUTES adds its own. */
  attributes?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the process's tracing when {@link tracingRequested}: Laneway's recording tracer (see
 * tracing/recording-tracer.ts) with the sampler of OTEL_TRACES_SAMPLER / _ARG (parent-based always-on
 * by default), exporting over OTLP/HTTP JSON in batches (OTEL_BSP_* and OTEL_EXPORTER_OTLP_* honoured,
 * uncompressed unless OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION=gzip), an AsyncLocalStorage context
 * manager (its hooks on only once a context is entered) and the W3C trace-context propagator. Returns
 * undefined, loading nothing, when tracing is not requested. Throws naming the variable for a setting
 * it cannot use.
 */
export async function startTracing(options: StartTracingOptions): Promise<Tracing | undefined> {
  const env = options.env ?? process.env;
  if (current || !tracingRequested(env)) return current;
  const [api, core, resources, semconv, recording, exporterModule, contextModule] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('./tracing/recording-tracer'),
    import('./tracing/otlp-http-exporter'),
    import('./tracing/async-local-context'),
  ]);
  // OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME, win over ours (read from `env`, as the SDK's env detector reads process.env).
  const fromEnv: Record<string, string> = {};
  for (const pair of (env['OTEL_RESOURCE_ATTRIBUTES'] ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) fromEnv[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  const serviceName = env['OTEL_SERVICE_NAME']?.trim();
  if (serviceName) fromEnv[semconv.ATTR_SERVICE_NAME] = serviceName;
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: options.defaultServiceName, ...options.attributes, ...fromEnv }));
  const exporter = new exporterModule.OtlpHttpExporter({ env, resource: resource.attributes, scope: { name: TRACER_NAME } });
  const sample = recording.samplerFromEnv(env);
  const tracer = recording.recordingTracer(api, sample, (span) => exporter.onEnd(span));
  register(api, core, tracer, new contextModule.AsyncLocalContextManager(api.ROOT_CONTEXT));
  current = makeTracing(api, core, tracer, exporter, (spans) => {
    for (const span of spans) exporter.onEnd(span);
  });
  return current;
}

/**
 * A worker thread's tracing (a CPU-lane thread's): spans are made here, with their own context, and
 * `post` gets each batch of finished ones to send to the main thread, which exports them
 * ({@link Tracing.exportThreadSpans}). Batches are posted once the thread's current turn ends.
 */
export async function startThreadTracing(post: (spans: ThreadSpan[]) => void): Promise<Tracing> {
  if (current) return current;
  const [api, core, recording, contextModule] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('./tracing/recording-tracer'),
    import('./tracing/async-local-context'),
  ]);
  let batch: ThreadSpan[] = [];
  const flush = (): void => {
    const spans = batch;
    batch = [];
    if (spans.length) post(spans);
  };
  const tracer = recording.recordingTracer(api, recording.samplerFromEnv(process.env), (span) => {
    if (batch.length === 0) setImmediate(flush);
    batch.push(recording.plainRecord(span));
  });
  register(api, core, tracer, new contextModule.AsyncLocalContextManager(api.ROOT_CONTEXT));
  const flushed = { forceFlush: () => Promise.resolve(flush()), shutdown: () => Promise.resolve(flush()) };
  current = makeTracing(api, core, tracer, flushed, () => undefined);
  return current;
}

/** Makes the tracer, the context manager and the W3C propagator the process's (or thread's) globals. */
function register(api: TraceApi, core: typeof OtelCore, tracer: Tracer, contextManager: OtelApi.ContextManager): void {
  api.context.setGlobalContextManager(contextManager);
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider({ getTracer: () => tracer });
}

// version-traceid-parentid-flags; a version other than 00 may add fields after a dash (W3C trace context).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function makeTracing(
  api: TraceApi,
  core: typeof OtelCore,
  tracer: Tracer,
  exporter: { forceFlush(): Promise<void>; shutdown(): Promise<void> },
  exportThreadSpans: (spans: readonly ThreadSpan[]) => void,
): Tracing {
  return {
    api,
    tracer,
    traceparent(of = api.context.active()) {
      const span = 'spanContext' in of ? of.spanContext() : api.trace.getSpanContext(of);
      if (!span || !api.isSpanContextValid(span)) return undefined;
      return `00-${span.traceId}-${span.spanId}-0${(span.traceFlags & api.TraceFlags.SAMPLED).toString(16)}`;
    },
    extract(traceparent, tracestate) {
      const root = api.ROOT_CONTEXT;
      if (!traceparent) return root;
      const m = TRACEPARENT.exec(traceparent.trim());
      if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return root;
      const context: OtelApi.SpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16), isRemote: true };
      if (!api.isSpanContextValid(context)) return root;
      if (tracestate) context.traceState = new core.TraceState(tracestate);
      return api.trace.setSpanContext(root, context);
    },
    exportThreadSpans,
    forceFlush: () => exporter.forceFlush(),
    shutdown: async () => {
      await exporter.shutdown();
      current = undefined;
    },
  };
}
