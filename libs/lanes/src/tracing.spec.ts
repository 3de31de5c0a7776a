import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as api from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, tracing, type Tracing } from './tracing';
import { OtlpHttpExporter, spanJson, unixNano, writtenSpan } from './tracing/otlp-http-exporter';
import { newSpanId, newTraceId, recordingTracer, samplerFromEnv, type SpanRecord } from './tracing/recording-tracer';
import type { AttributeValue } from '@opentelemetry/api';

/** What a real OTLP/HTTP receiver got: each POST's headers and decoded JSON body. */
interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: { resourceSpans: { resource: { attributes: Attr[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[] };
}
interface Attr {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attr[];
  events?: { name: string; timeUnixNano: string; attributes: Attr[] }[];
  status?: { code: number; message?: string };
}

let server: Server;
let endpoint = '';
const received: Received[] = [];
/** Statuses to answer, in turn, before 200s. */
let answers: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      if (status === 200) {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        received.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(text) as Received['body'] });
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  received.length = 0;
  answers = [];
});

const spansOf = (r: Received[]): OtlpSpan[] => r.flatMap((x) => x.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
const attrs = (list: Attr[]): Record<string, unknown> => Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));

describe('startTracing', () => {
  let t: Tracing;

  beforeAll(async () => {
    t = (await startTracing({
      defaultServiceName: 'svc-default',
      attributes: { 'service.instance.id': 's1' },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${endpoint}/`, OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%201' },
    }))!;
  });

  afterAll(async () => {
    await t.shutdown();
  });

  it('is the process tracing, and loads nothing without an endpoint', async () => {
    expect(tracing()).toBe(t);
    // Already started: the same one, whatever the environment says.
    expect(await startTracing({ defaultServiceName: 'x', env: {} })).toBe(t);
  });

  it('exports spans as OTLP JSON: ids, parents, kinds, times, attributes, events, status and the resource', async () => {
    const parent = t.extract(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`);
    const server = t.tracer.startSpan('GET /items/:id', { kind: api.SpanKind.SERVER, attributes: { 'http.route': '/items/:id', 'url.path': '/items/"1"\n' } }, parent);
    const child = t.tracer.startSpan('SELECT test', { kind: api.SpanKind.CLIENT, attributes: { 'server.port': 5432, ratio: 0.5, ok: true, tags: ['a', 'b'] } }, api.trace.setSpan(api.ROOT_CONTEXT, server));
    child.addEvent('retry', { attempt: 2 });
    child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'relation "x" does not exist' });
    child.end();
    server.setAttribute('http.response.status_code', 200);
    server.end();
    await t.forceFlush();

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.url).toBe('/v1/traces');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['x-api-key']).toBe('k 1');
    const resource = attrs(request!.body.resourceSpans[0]!.resource.attributes);
    expect(resource).toMatchObject({ 'service.name': 'svc-default', 'service.instance.id': 's1', 'deployment.environment': 'test' });
    expect(request!.body.resourceSpans[0]!.scopeSpans[0]!.scope.name).toBe('laneway');
    const [db, http] = spansOf(received);
    expect(http).toMatchObject({ traceId: 'a'.repeat(32), parentSpanId: 'b'.repeat(16), name: 'GET /items/:id', kind: 2 });
    expect(http!.status).toBeUndefined();
    expect(attrs(http!.attributes)).toEqual({ 'http.route': '/items/:id', 'url.path': '/items/"1"\n', 'http.response.status_code': 200 });
    expect(db).toMatchObject({ traceId: 'a'.repeat(32), parentSpanId: http!.spanId, name: 'SELECT test', kind: 3, status: { code: 2, message: 'relation "x" does not exist' } });
    expect(db!.attributes).toEqual([
      { key: 'server.port', value: { intValue: 5432 } },
      { key: 'ratio', value: { doubleValue: 0.5 } },
      { key: 'ok', value: { boolValue: true } },
      { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
    ]);
    expect(db!.events).toEqual([{ name: 'retry', timeUnixNano: expect.stringMatching(/^\d{19}$/), attributes: [{ key: 'attempt', value: { intValue: 2 } }] }]);
    for (const span of [db!, http!]) {
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(span.startTimeUnixNano).toMatch(/^\d{19}$/);
      expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
      expect(Math.abs(Number(BigInt(span.endTimeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(5000);
    }
  });

  it('reads and writes W3C traceparents, and refuses malformed ones', () => {
    const id = 'c'.repeat(32);
    const ctx = t.extract(`00-${id}-${'d'.repeat(16)}-01`, 'vendor=x');
    const span = t.tracer.startSpan('s', {}, ctx);
    expect(t.traceparent(span)).toBe(`00-${id}-${span.spanContext().spanId}-01`);
    expect(t.traceparent(api.trace.setSpan(api.ROOT_CONTEXT, span))).toBe(t.traceparent(span));
    expect(span.spanContext().traceState?.get('vendor')).toBe('x');
    expect(t.traceparent()).toBeUndefined();
    for (const bad of [
      `ff-${id}-${'d'.repeat(16)}-01`,
      `00-${'0'.repeat(32)}-${'d'.repeat(16)}-01`,
      `00-${id}-${'0'.repeat(16)}-01`,
      `00-${id}-${'d'.repeat(16)}-01-extra`,
      `00-${id.toUpperCase()}-${'d'.repeat(16)}-01`,
      'garbage',
    ]) {
      expect(api.trace.getSpanContext(t.extract(bad)), bad).toBeUndefined();
    }
    // A later version may add fields.
    expect(api.trace.getSpanContext(t.extract(`01-${id}-${'d'.repeat(16)}-01-more`))?.traceId).toBe(id);
  });

  it('follows an unsampled parent: the span is not recorded, its context says so', async () => {
    const span = t.tracer.startSpan('quiet', {}, t.extract(`00-${'e'.repeat(32)}-${'f'.repeat(16)}-00`));
    expect(span.isRecording()).toBe(false);
    expect(t.traceparent(span)).toMatch(new RegExp(`^00-${'e'.repeat(32)}-[0-9a-f]{16}-00$`));
    span.end();
    await t.forceFlush();
    expect(received).toHaveLength(0);
  });
});

describe('OtlpHttpExporter', () => {
  const record = (name: string): SpanRecord => ({
    name,
    kind: 0,
    traceId: newTraceId(),
    spanId: newSpanId(),
    parentSpanId: '',
    traceState: '',
    startMs: Date.now(),
    endMs: Date.now(),
    attributes: {},
    status: 0,
    statusMessage: '',
    events: undefined,
    links: undefined,
  });

  it('sends batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE, gzipped when asked, and retries a 503', async () => {
    const exporter = new OtlpHttpExporter({
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/custom/path`, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '3', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip' },
      resource: { 'service.name': 'x' },
      scope: { name: 'laneway' },
    });
    answers = [503];
    for (let i = 0; i < 7; i++) exporter.onEnd(record(`s${i}`));
    await exporter.shutdown();
    expect(received.map((r) => r.url)).toEqual(['/custom/path', '/custom/path', '/custom/path']);
    expect(received.every((r) => r.headers['content-encoding'] === 'gzip')).toBe(true);
    expect(received.map((r) => spansOf([r]).map((s) => s.name))).toEqual([
      ['s0', 's1', 's2'],
      ['s3', 's4', 's5'],
      ['s6'],
    ]);
    expect(exporter.dropped).toBe(0);
  });

  it('drops, and counts, spans past OTEL_BSP_MAX_QUEUE_SIZE', async () => {
    const exporter = new OtlpHttpExporter({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_MAX_QUEUE_SIZE: '4' },
      resource: {},
      scope: { name: 'laneway' },
    });
    // The first full batch leaves at once; two more fill the queue; the last two are dropped.
    for (let i = 0; i < 8; i++) exporter.onEnd(record(`s${i}`));
    await exporter.shutdown();
    expect(spansOf(received).map((s) => s.name)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
    expect(exporter.dropped).toBe(2);
  });

  it('refuses settings it cannot use, naming the variable and the value', () => {
    const make = (env: NodeJS.ProcessEnv) => () => new OtlpHttpExporter({ env, resource: {}, scope: { name: 'laneway' } });
    expect(make({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT="not a url" is not a URL/);
    expect(make({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x/v1/traces' })).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="ftp:\/\/x\/v1\/traces" is not an http or https URL/);
    expect(make({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' })).toThrow(/OTEL_EXPORTER_OTLP_COMPRESSION="brotli" is not a compression: use gzip or none/);
    expect(make({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(/OTEL_BSP_SCHEDULE_DELAY="soon"/);
    expect(make({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem' })).toThrow(/OTEL_EXPORTER_OTLP_CERTIFICATE="\/nonexistent\/ca.pem" cannot be read/);
  });

  it('encodes attribute values the same whether their JSON was kept or made again', () => {
    // 300 values of one key: past the 200 whose JSON is kept, the rest are encoded each time.
    for (let i = 0; i < 300; i++) {
      const attributes = { 'url.path': `/items/${i}`, 'http.response.status_code': 200 + (i % 3), 'url.query': i % 2 ? 'a="b"\\' : 'é 😀 \ud800' };
      const span = JSON.parse(spanJson({ ...record('a'), attributes })) as OtlpSpan;
      expect(attrs(span.attributes)).toEqual(attributes);
      // The writer keeps each attribute's bytes: the same past the 200 kept.
      const written = JSON.parse(writtenSpan({ ...record('a'), attributes })) as OtlpSpan;
      expect(attrs(written.attributes)).toEqual(attributes);
    }
  });

  it('writes ASCII only: other characters as JSON escapes, which decode to them', async () => {
    const exporter = new OtlpHttpExporter({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, resource: { 'service.name': 'café' }, scope: { name: 'laneway' } });
    const name = 'SELECT «naïve» 😀 \u0001';
    exporter.onEnd({ ...record(name), attributes: { 'db.query.text': name }, status: 2, statusMessage: 'échec' });
    await exporter.shutdown();
    const [span] = spansOf(received);
    expect(span).toMatchObject({ name, status: { code: 2, message: 'échec' } });
    expect(attrs(span!.attributes)).toEqual({ 'db.query.text': name });
    expect(attrs(received[0]!.body.resourceSpans[0]!.resource.attributes)['service.name']).toBe('café');
    expect(spanJson({ ...record(name), attributes: { q: name } })).toMatch(/^[ -~]*$/);
  });

  it('writes each span into its batch byte for byte as its JSON string would be', () => {
    const times = [0, 0.0005, 1, 99_999_999.999, 100_000_000, 1_765_046_400_000, 1_765_046_400_123.456, 1_765_046_400_000.999, 4_102_444_800_000.5];
    const values: Record<string, AttributeValue>[] = [
      {},
      { 'http.request.method': 'GET', 'http.route': '/customers/:id', 'laneway.attempt': 1 },
      { 'http.response.status_code': 503, ratio: 0.25, ok: true, list: ['a', 'b'], nums: [1, 2.5], odd: Number.NaN, 'url.query': 'a="b"\\' },
      { 'db.query.text': 'SELECT «naïve» 😀 \u0001', empty: '' },
    ];
    let n = 0;
    for (const startMs of times) {
      for (const attributes of values) {
        for (const kind of [0, 1, 4]) {
          const span: SpanRecord = {
            ...record(n % 2 ? 'GET /customers/:id' : `process svc-${n} «é»`),
            kind,
            parentSpanId: n % 3 ? newSpanId() : '',
            startMs,
            endMs: startMs + (n % 5) * 0.3337,
            attributes: { ...attributes },
            status: n % 3,
          };
          n++;
          expect(writtenSpan(span)).toBe(spanJson(span));
          // Twice: the second from the bytes kept for the name and attributes.
          expect(writtenSpan(span)).toBe(spanJson(span));
        }
      }
    }
    // Spans with what Laneway's own never carry are written through their JSON string.
    const rich: SpanRecord = { ...record('r'), traceState: 'a=1', statusMessage: 'no', status: 2, events: [{ name: 'e', time: 5, attributes: { k: 1 } }] };
    expect(writtenSpan(rich)).toBe(spanJson(rich));
  });

  it('writes times as nanoseconds, exact to the microsecond', () => {
    expect(unixNano(1_765_046_400_123.456)).toBe('1765046400123456000');
    expect(unixNano(1_765_046_400_000)).toBe('1765046400000000000');
    expect(JSON.parse(spanJson({ ...record('n'), startMs: 1_765_046_400_000.001, endMs: 1_765_046_400_000.999 }))).toMatchObject({
      startTimeUnixNano: '1765046400000001000',
      endTimeUnixNano: '1765046400000999000',
    });
  });
});

describe('samplerFromEnv', () => {
  const ids = Array.from({ length: 2000 }, () => newTraceId());
  const parent = (flags: number): api.SpanContext => ({ traceId: newTraceId(), spanId: newSpanId(), traceFlags: flags });

  it('defaults to parent-based always-on, and takes the SDK names', () => {
    const fallback = samplerFromEnv({});
    expect(fallback(ids[0]!, undefined)).toBe(true);
    expect(fallback(ids[0]!, parent(0))).toBe(false);
    expect(fallback(ids[0]!, parent(1))).toBe(true);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' })(ids[0]!, parent(1))).toBe(false);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_on' })(ids[0]!, parent(0))).toBe(true);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' })(ids[0]!, undefined)).toBe(false);
  });

  it('samples about the ratio of trace ids, and all or none at 1 and 0', () => {
    const share = (arg: string): number => ids.filter((id) => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: arg })(id, undefined)).length / ids.length;
    expect(share('1')).toBe(1);
    expect(share('0')).toBe(0);
    expect(share('0.25')).toBeGreaterThan(0.18);
    expect(share('0.25')).toBeLessThan(0.32);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })(ids[0]!, parent(1))).toBe(true);
  });

  it('refuses a sampler or ratio it does not know, naming the variable', () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow(/OTEL_TRACES_SAMPLER="jaeger_remote" is not supported/);
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG="2" is not a sampling ratio/);
  });

  it('makes unsampled spans that carry their context and record nothing', () => {
    const ended: SpanRecord[] = [];
    const tracer = recordingTracer(api, () => false, (s) => ended.push(s));
    const span = tracer.startSpan('x');
    span.setAttribute('a', 1);
    span.end();
    expect(span.isRecording()).toBe(false);
    expect(api.isSpanContextValid(span.spanContext())).toBe(true);
    expect(ended).toEqual([]);
  });
});
