// A Tracer of @opentelemetry/api's interface that records each sampled span as one plain object
// (SpanRecord) and hands it, once ended, to a sink (the OTLP exporter's batch, or a CPU thread's post
// to the main thread). It replaces the SDK's tracer on the hot path: measured on the HTTP benchmark,
// the SDK's span (attribute sanitising, hrtime conversions, a random-bytes call per id, processors)
// cost several µs per request, this about a tenth of it.
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type * as OtelApi from '@opentelemetry/api';
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
  TraceState,
} from '@opentelemetry/api';

/** A finished span as exported (and as a CPU thread posts it to the main thread): plain data only. */
export interface SpanRecord {
  name: string;
  /** @opentelemetry/api's SpanKind (INTERNAL 0 ... CONSUMER 4; OTLP's is one more). */
  kind: number;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  traceState: string;
  /** Epoch milliseconds (fractional: sub-microsecond precision). */
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue | undefined>;
  /** SpanStatusCode: UNSET 0, OK 1, ERROR 2. */
  status: number;
  statusMessage: string;
  events: SpanEventRecord[] | undefined;
  links: SpanLinkRecord[] | undefined;
}

export interface SpanEventRecord {
  name: string;
  time: number;
  attributes: Attributes | undefined;
}

export interface SpanLinkRecord {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes | undefined;
}

/** Decides whether a new span is sampled, from its trace id and its parent (OTEL_TRACES_SAMPLER). */
export type SampleDecider = (traceId: string, parent: SpanContext | undefined) => boolean;

const ROOT_ALWAYS_ON = (): boolean => true;
const ROOT_ALWAYS_OFF = (): boolean => false;

/**
 * The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name (the SDK's names and defaults:
 * parentbased_always_on when unset). Throws naming the variable and value for one it does not know.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv): SampleDecider {
  const name = (env['OTEL_TRACES_SAMPLER'] ?? '').trim().toLowerCase() || 'parentbased_always_on';
  const ratio = (): ((traceId: string) => boolean) => {
    const raw = (env['OTEL_TRACES_SAMPLER_ARG'] ?? '').trim();
    const value = raw === '' ? 1 : Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new Error(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(raw)} is not a sampling ratio: give a number from 0 to 1`);
    }
    // As the SDK's TraceIdRatioBasedSampler: the trace id's 32-bit words XORed, against ratio * 2^32-1.
    const bound = Math.floor(value * 0xffffffff);
    return (traceId) => {
      let acc = 0;
      for (let i = 0; i < 32; i += 8) acc = (acc ^ parseInt(traceId.slice(i, i + 8), 16)) >>> 0;
      return acc <= bound && value > 0;
    };
  };
  const parentBased =
    (root: (traceId: string) => boolean): SampleDecider =>
    (traceId, parent) =>
      parent ? (parent.traceFlags & 1) === 1 : root(traceId);
  switch (name) {
    case 'always_on':
      return ROOT_ALWAYS_ON;
    case 'always_off':
      return ROOT_ALWAYS_OFF;
    case 'traceidratio': {
      const root = ratio();
      return (traceId) => root(traceId);
    }
    case 'parentbased_always_on':
      return parentBased(ROOT_ALWAYS_ON);
    case 'parentbased_always_off':
      return parentBased(ROOT_ALWAYS_OFF);
    case 'parentbased_traceidratio':
      return parentBased(ratio());
    default:
      throw new Error(
        `OTEL_TRACES_SAMPLER=${JSON.stringify(env['OTEL_TRACES_SAMPLER'])} is not supported: use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio`,
      );
  }
}

// Ids come from a pool of random bytes turned into hex once (one randomFillSync per 256 span ids),
// sliced 16 or 32 characters at a time.
const POOL_BYTES = 4096;
let pool = '';
const ZEROS = '0'.repeat(32);
let offset = 0;

function randomHex(chars: number): string {
  for (;;) {
    if (offset + chars > pool.length) {
      pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES)).toString('hex');
      offset = 0;
    }
    const id = pool.slice(offset, offset + chars);
    offset += chars;
    // All zeros is the invalid id (a chance of 2^-64 at most).
    if (id !== ZEROS.slice(0, chars)) return id;
  }
}

export const newSpanId = (): string => randomHex(16);
export const newTraceId = (): string => randomHex(32);

// Epoch milliseconds now, from the monotonic clock (as the SDK does, so a span's duration is exact).
const origin = performance.timeOrigin;

export function nowMs(): number {
  return origin + performance.now();
}

/** A TimeInput (epoch ms, [s, ns], a Date) as epoch milliseconds. */
export function timeMs(time: TimeInput | undefined): number {
  if (time === undefined) return nowMs();
  if (typeof time === 'number') return time < origin / 2 ? origin + time : time;
  if (Array.isArray(time)) return time[0] * 1000 + time[1] / 1e6;
  return (time as Date).getTime();
}

/** A recording span: the record itself, plus what the Span interface asks. */
class RecordingSpan implements Span, SpanRecord {
  traceState: string;
  endMs = 0;
  status = 0;
  statusMessage = '';
  events: SpanEventRecord[] | undefined = undefined;
  links: SpanLinkRecord[] | undefined = undefined;
  private context: SpanContext | undefined = undefined;
  private ended = false;

  constructor(
    public name: string,
    readonly kind: number,
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string,
    private readonly state: TraceState | undefined,
    readonly startMs: number,
    readonly attributes: Record<string, AttributeValue | undefined>,
    private readonly sink: (span: SpanRecord) => void,
  ) {
    this.traceState = state ? state.serialize() : '';
  }

  spanContext(): SpanContext {
    return (this.context ??= { traceId: this.traceId, spanId: this.spanId, traceFlags: 1, traceState: this.state });
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    if (!this.ended) Object.assign(this.attributes, attributes);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const timeGiven = typeof attributesOrTime === 'number' || Array.isArray(attributesOrTime) || attributesOrTime instanceof Date;
    (this.events ??= []).push({
      name,
      time: timeMs(timeGiven ? (attributesOrTime as TimeInput) : time),
      attributes: timeGiven ? undefined : (attributesOrTime as Attributes | undefined),
    });
    return this;
  }

  addLink(link: Link): this {
    if (!this.ended) {
      const c = link.context;
      (this.links ??= []).push({ traceId: c.traceId, spanId: c.spanId, traceState: c.traceState?.serialize() ?? '', attributes: link.attributes });
    }
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.ended) {
      this.status = status.code;
      this.statusMessage = status.message ?? '';
    }
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.endMs = endTime === undefined ? nowMs() : timeMs(endTime);
    this.sink(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      if (exception.name) attributes['exception.type'] = exception.name;
      else if (exception.code !== undefined) attributes['exception.type'] = String(exception.code);
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }
}

/** A span's record as plain data (what a worker thread can post: no functions, no private fields). */
export function plainRecord(span: SpanRecord): SpanRecord {
  return {
    name: span.name,
    kind: span.kind,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    traceState: span.traceState,
    startMs: span.startMs,
    endMs: span.endMs,
    attributes: { ...span.attributes },
    status: span.status,
    statusMessage: span.statusMessage,
    events: span.events,
    links: span.links,
  };
}

/** The Tracer: sampled spans are RecordingSpans ending into `sink`; the others carry their context only. */
export function recordingTracer(api: typeof OtelApi, sample: SampleDecider, sink: (span: SpanRecord) => void): Tracer {
  const startSpan = (name: string, options: SpanOptions = {}, context: Context = api.context.active()): Span => {
    const parent = options.root ? undefined : api.trace.getSpanContext(context);
    const valid = parent !== undefined && api.isSpanContextValid(parent);
    const traceId = valid ? parent.traceId : newTraceId();
    const spanId = newSpanId();
    if (!sample(traceId, valid ? parent : undefined)) {
      return api.trace.wrapSpanContext({ traceId, spanId, traceFlags: 0, traceState: valid ? parent.traceState : undefined });
    }
    return new RecordingSpan(
      name,
      options.kind ?? 0,
      traceId,
      spanId,
      valid ? parent.spanId : '',
      valid ? parent.traceState : undefined,
      options.startTime === undefined ? nowMs() : timeMs(options.startTime),
      // The callers build a fresh object per span: taken as it is, not copied.
      (options.attributes as Record<string, AttributeValue | undefined> | undefined) ?? {},
      sink,
    );
  };
  function startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.pop() as F;
    const [options, context] = rest as [SpanOptions | undefined, Context | undefined];
    const parent = context ?? api.context.active();
    const span = startSpan(name, options, parent);
    return api.context.with(api.trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
  return { startSpan, startActiveSpan } as Tracer;
}
