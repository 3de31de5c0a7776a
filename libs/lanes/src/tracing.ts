// OpenTelemetry traces for the servers and the control plane. Off unless the standard OTLP endpoint
// variable is set: then startTracing() loads the SDK (dynamic imports, so a process without the
// variable never loads it) and tracing() returns the process's Tracing. Every instrumentation point
// asks tracing() first and does nothing else when it is undefined: that one check is all tracing
// costs on the hot path when it is off.
//
// A trace crosses a lane queue as the job's `tp` (a W3C traceparent), and a CPU-lane thread the same
// way in its `run` message; a CPU thread's spans come back to the main thread (ThreadSpan) and leave
// through the main thread's exporter, so the threads open no connections of their own and a thread
// terminated at its deadline loses only the spans of the job it was running.
import type * as OtelApi from '@opentelemetry/api';
import type * as OtelCore from '@opentelemetry/core';
import type { Context, SpanContext, Tracer } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export type TraceApi = typeof OtelApi;

/** The tracing of this process (or thread), once {@link startTracing} or {@link startThreadTracing} ran. */
export interface Tracing {
  /** @opentelemetry/api, loaded with the SDK (so that code using it loads nothing while tracing is off). */
  readonly api: TraceApi;
  readonly tracer: Tracer;
  /** The W3C traceparent of `ctx`'s span (the active context's by default); undefined when it has none. */
  traceparent(ctx?: Context): string | undefined;
  /** The root context with `traceparent` (and `tracestate`) as its remote parent; the root context itself when absent or invalid. */
  extract(traceparent: string | undefined, tracestate?: string): Context;
  /** Exports spans a CPU-lane thread made and ended (posted to this thread as plain objects). */
  exportThreadSpans(spans: readonly ThreadSpan[]): void;
  /** Exports what is buffered now. */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** A finished span as a worker thread posts it (what a ReadableSpan holds, minus its functions and resource). */
export interface ThreadSpan {
  name: string;
  kind: number;
  context: PlainSpanContext;
  parent: PlainSpanContext | undefined;
  startTime: [number, number];
  endTime: [number, number];
  duration: [number, number];
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
  events: { name: string; time: [number, number]; attributes?: Record<string, unknown>; droppedAttributesCount?: number }[];
  scope: { name: string; version?: string };
  droppedAttributesCount: number;
  droppedEventsCount: number;
}

interface PlainSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

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
 * Starts the process's tracing when {@link tracingRequested}: an OTLP/HTTP (JSON) exporter behind a
 * batch processor (OTEL_BSP_* honoured), the sampler of OTEL_TRACES_SAMPLER / _ARG (parent-based
 * always-on by default), AsyncLocalStorage context and the W3C trace-context propagator. Returns
 * undefined, loading nothing, when tracing is not requested. Spans leave gzipped unless
 * OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION says otherwise.
 */
export async function startTracing(options: StartTracingOptions): Promise<Tracing | undefined> {
  const env = options.env ?? process.env;
  if (current || !tracingRequested(env)) return current;
  const [api, core, node, exporterModule, resources, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES come through the env detector, and win over ours.
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: options.defaultServiceName, ...options.attributes }))
    .merge(detected);
  // gzip unless the environment says otherwise: measured on the HTTP benchmark's server, compressing
  // cost the exporting process less CPU per span than writing the JSON uncompressed (5.8 against 8.3 µs).
  type ExporterConfig = NonNullable<ConstructorParameters<typeof exporterModule.OTLPTraceExporter>[0]>;
  const compressionSet = env['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION'] || env['OTEL_EXPORTER_OTLP_COMPRESSION'];
  const exporter = new exporterModule.OTLPTraceExporter(compressionSet ? {} : ({ compression: 'gzip' } as ExporterConfig));
  const processor = new node.BatchSpanProcessor(exporter);
  const provider = new node.NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  current = makeTracing(api, core, provider.getTracer(TRACER_NAME), provider, (spans) => {
    for (const span of spans) processor.onEnd(readableOf(span, resource));
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
  const [api, core, node] = await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/core'), import('@opentelemetry/sdk-trace-node')]);
  let batch: ThreadSpan[] = [];
  const flush = (): void => {
    const spans = batch;
    batch = [];
    if (spans.length) post(spans);
  };
  const poster: SpanProcessor = {
    onStart: () => undefined,
    onEnd(span: ReadableSpan) {
      if ((span.spanContext().traceFlags & api.TraceFlags.SAMPLED) === 0) return;
      if (batch.length === 0) setImmediate(flush);
      batch.push(plainSpan(span));
    },
    forceFlush: () => Promise.resolve(flush()),
    shutdown: () => Promise.resolve(flush()),
  };
  const provider = new node.NodeTracerProvider({ spanProcessors: [poster] });
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  current = makeTracing(api, core, provider.getTracer(TRACER_NAME), provider, () => undefined);
  return current;
}

function makeTracing(
  api: TraceApi,
  core: typeof OtelCore,
  tracer: Tracer,
  provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> },
  exportThreadSpans: (spans: readonly ThreadSpan[]) => void,
): Tracing {
  const propagator = new core.W3CTraceContextPropagator();
  const getter: OtelApi.TextMapGetter<Record<string, string | undefined>> = {
    keys: (carrier) => Object.keys(carrier),
    get: (carrier, key) => carrier[key],
  };
  return {
    api,
    tracer,
    traceparent(ctx = api.context.active()) {
      const span = api.trace.getSpanContext(ctx);
      if (!span || !api.isSpanContextValid(span)) return undefined;
      return `00-${span.traceId}-${span.spanId}-0${(span.traceFlags & api.TraceFlags.SAMPLED).toString(16)}`;
    },
    extract(traceparent, tracestate) {
      const root = api.ROOT_CONTEXT;
      if (!traceparent) return root;
      return propagator.extract(root, { traceparent, tracestate }, getter);
    },
    exportThreadSpans,
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.shutdown();
      current = undefined;
    },
  };
}

function plainContext(span: SpanContext): PlainSpanContext {
  return { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags, isRemote: span.isRemote };
}

function plainSpan(span: ReadableSpan): ThreadSpan {
  return {
    name: span.name,
    kind: span.kind,
    context: plainContext(span.spanContext()),
    parent: span.parentSpanContext && plainContext(span.parentSpanContext),
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: { ...span.status },
    attributes: { ...span.attributes },
    events: span.events.map((e) => ({ name: e.name, time: e.time, attributes: e.attributes && { ...e.attributes }, droppedAttributesCount: e.droppedAttributesCount })),
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version },
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
  };
}

function readableOf(span: ThreadSpan, resource: ReadableSpan['resource']): ReadableSpan {
  const context = span.context as SpanContext;
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => context,
    parentSpanContext: span.parent as SpanContext | undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes as ReadableSpan['attributes'],
    links: [],
    events: span.events as ReadableSpan['events'],
    ended: true,
    resource,
    instrumentationScope: span.scope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: 0,
  };
}
