// Exports SpanRecords over OTLP/HTTP as JSON (POST <endpoint>/v1/traces, an ExportTraceServiceRequest),
// batched as the SDK's BatchSpanProcessor batches (OTEL_BSP_* honoured) and configured by the standard
// OTEL_EXPORTER_OTLP_(TRACES_)* variables. The JSON is written straight from the records: measured on
// the HTTP benchmark, the OpenTelemetry exporter's transformer (an object per span, attribute and
// value, then JSON.stringify) was the largest single cost of tracing a request.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { gzip } from 'node:zlib';
import type { AttributeValue } from '@opentelemetry/api';
import type { SpanRecord } from './recording-tracer';

export interface OtlpHttpExporterOptions {
  env: NodeJS.ProcessEnv;
  /** The resource's attributes (service.name and the rest), sent once per request. */
  resource: Record<string, AttributeValue | undefined>;
  scope: { name: string; version?: string };
}

interface Settings {
  url: URL;
  headers: Record<string, string>;
  gzip: boolean;
  timeoutMs: number;
  scheduleDelayMs: number;
  exportTimeoutMs: number;
  maxBatch: number;
  maxQueue: number;
  tls: https.AgentOptions;
}

/** Attempts per batch when the receiver answers 429/502/503/504 or cannot be reached (the OTLP spec's retryable cases). */
const ATTEMPTS = 5;

/**
 * Spans encoded as they end, into the request body of their batch: a span's objects die young (the
 * SDK's queue kept them for a batch's lifetime, long enough to be promoted, which showed as garbage
 * collection in the benchmark's profile), and a batch leaves as the bytes already written.
 */
class Batch {
  buffer: Buffer;
  used: number;
  count = 0;

  constructor(buffer: Buffer, prefix: Buffer) {
    this.buffer = buffer;
    this.used = prefix.copy(this.buffer, 0);
  }

  /** Room for `bytes` more (and the suffix, `reserve`), the buffer grown if need be. */
  room(bytes: number, reserve: number): Buffer {
    const needed = this.used + bytes + reserve;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.used);
      this.buffer = grown;
    }
    return this.buffer;
  }

  /** A span's JSON as a string (the spans {@link writeSpan} does not write itself). */
  add(json: string, reserve: number): void {
    this.room(1 + json.length, reserve);
    if (this.count++) this.buffer[this.used++] = 0x2c; // ','
    // ASCII only (see ascii()): written a byte per character, without UTF-8's per-character encoding.
    this.used += this.buffer.write(json, this.used, 'latin1');
  }

  /** The request body: what was written, closed by `suffix` (room for which each add kept). */
  seal(suffix: Buffer): Buffer {
    this.used += suffix.copy(this.buffer, this.used);
    return this.buffer.subarray(0, this.used);
  }
}

export class OtlpHttpExporter {
  private readonly settings: Settings;
  private readonly agent: http.Agent;
  private readonly prefix: Buffer;
  private readonly suffix: Buffer;
  /** Batches waiting, the last one filling; at most maxQueue spans in all. */
  private batches: Batch[] = [];
  private queued = 0;
  /** The size the last batch's body reached: the next one starts that big. */
  private batchBytes = 64 * 1024;
  /**
   * The buffer of the last batch sent, kept for the next batch once its POST is over: writing every
   * batch into fresh memory (a new buffer of a few hundred KB each time) cost the whole process more
   * than the writing itself, in cache misses.
   */
  private spare: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  private stopped = false;
  /** Spans dropped because the queue was full, or their export failed for good. */
  dropped = 0;
  failedExports = 0;

  constructor(options: OtlpHttpExporterOptions) {
    this.settings = settingsOf(options.env);
    const { url, tls } = this.settings;
    this.agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 2, ...tls }) : new http.Agent({ keepAlive: true, maxSockets: 2 });
    const scope = `{"name":${ascii(options.scope.name)}${options.scope.version ? `,"version":${ascii(options.scope.version)}` : ''}}`;
    this.prefix = Buffer.from(`{"resourceSpans":[{"resource":{"attributes":${attributesJson(options.resource)}},"scopeSpans":[{"scope":${scope},"spans":[`);
    this.suffix = Buffer.from(']}]}]}');
  }

  /** Encodes a finished span into the filling batch (dropped, and counted, when the queue is full). */
  onEnd(span: SpanRecord): void {
    if (this.stopped) return;
    const { maxQueue, maxBatch } = this.settings;
    if (this.queued >= maxQueue) {
      this.dropped++;
      return;
    }
    let batch = this.batches[this.batches.length - 1];
    if (!batch || batch.count >= maxBatch) this.batches.push((batch = this.newBatch()));
    writeSpan(batch, span, this.suffix.length);
    this.queued++;
    if (batch.count >= maxBatch) {
      if (!this.exporting) this.exportNow();
    } else if (!this.timer && !this.exporting) {
      this.timer = setTimeout(() => this.exportNow(), this.settings.scheduleDelayMs);
      this.timer.unref();
    }
  }

  /** Exports everything queued now; resolves once it has been sent (or failed). */
  async forceFlush(): Promise<void> {
    while (this.exporting) await this.exporting;
    while (this.queued) {
      this.exportNow();
      while (this.exporting) await this.exporting;
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.agent.destroy();
  }

  private newBatch(): Batch {
    const size = Math.max(this.batchBytes, this.prefix.length + 1024);
    let buffer = this.spare;
    this.spare = undefined;
    if (!buffer || buffer.length < size) buffer = Buffer.allocUnsafe(size);
    return new Batch(buffer, this.prefix);
  }

  /** Exports the oldest batch; when it is done, the next if a full one waits, else arms the timer for what is left. */
  private exportNow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.exporting ? undefined : this.batches.shift();
    if (!batch) return;
    this.queued -= batch.count;
    const body = batch.seal(this.suffix);
    this.batchBytes = Math.max(64 * 1024, body.length + 4096);
    this.exporting = this.send(body).then(
      () => {
        this.spare = batch.buffer;
      },
      () => {
        this.failedExports++;
        this.dropped += batch.count;
      },
    );
    void this.exporting.then(() => {
      this.exporting = undefined;
      if (this.stopped || !this.queued) return;
      if (this.batches.length > 1 || this.batches[0]!.count >= this.settings.maxBatch) this.exportNow();
      else if (!this.timer) {
        this.timer = setTimeout(() => this.exportNow(), this.settings.scheduleDelayMs);
        this.timer.unref();
      }
    });
  }

  private async send(json: Buffer): Promise<void> {
    const body = this.settings.gzip ? await gzipped(json) : json;
    const deadline = Date.now() + this.settings.exportTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const status = await this.post(body).catch(() => 0);
      if (status >= 200 && status < 300) return;
      const retryable = status === 0 || status === 429 || status === 502 || status === 503 || status === 504;
      // Exponential backoff with jitter: about 1, 2, 4, 8 s.
      const wait = Math.random() * 500 + 1000 * 2 ** (attempt - 1);
      if (!retryable || attempt >= ATTEMPTS || this.stopped || Date.now() + wait > deadline) throw new Error(`OTLP export answered ${status || 'nothing'}`);
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  /** One POST; resolves with the HTTP status (the body is read and dropped). */
  private post(body: Buffer): Promise<number> {
    const { url, headers, gzip: compressed, timeoutMs } = this.settings;
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(body.length),
            ...(compressed ? { 'content-encoding': 'gzip' } : {}),
          },
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        },
      );
      req.once('timeout', () => req.destroy(new Error(`OTLP export timed out after ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end(body);
    });
  }
}

function gzipped(json: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => gzip(json, (err, out) => (err ? reject(err) : resolve(out))));
}

/**
 * One span as OTLP JSON (opentelemetry/proto's JSON mapping: hex ids, times as decimal strings, kind + 1;
 * fields at their default, a zero count or an unset status, left out as proto3 JSON allows).
 */
export function spanJson(span: SpanRecord): string {
  let json =
    `{"traceId":"${span.traceId}","spanId":"${span.spanId}"` +
    (span.parentSpanId ? `,"parentSpanId":"${span.parentSpanId}"` : '') +
    (span.traceState ? `,"traceState":${ascii(span.traceState)}` : '') +
    `,"name":${ascii(span.name)},"kind":${span.kind + 1},"startTimeUnixNano":"${unixNano(span.startMs)}","endTimeUnixNano":"${unixNano(span.endMs)}"` +
    `,"attributes":${attributesJson(span.attributes)}`;
  if (span.events?.length) {
    json += ',"events":[';
    span.events.forEach((e, i) => {
      json += `${i ? ',' : ''}{"timeUnixNano":"${unixNano(e.time)}","name":${ascii(e.name)},"attributes":${attributesJson(e.attributes ?? {})}}`;
    });
    json += ']';
  }
  if (span.links?.length) {
    json += ',"links":[';
    span.links.forEach((l, i) => {
      json += `${i ? ',' : ''}{"traceId":"${l.traceId}","spanId":"${l.spanId}"${l.traceState ? `,"traceState":${ascii(l.traceState)}` : ''},"attributes":${attributesJson(l.attributes ?? {})}}`;
    });
    json += ']';
  }
  if (span.status) json += `,"status":{"code":${span.status}${span.statusMessage ? `,"message":${ascii(span.statusMessage)}` : ''}}`;
  return json + '}';
}

const TRACE_ID = Buffer.from('{"traceId":"');
const SPAN_ID = Buffer.from('","spanId":"');
const PARENT_ID = Buffer.from('","parentSpanId":"');
const NAME = Buffer.from('","name":');
const KIND = Buffer.from(',"kind":');
const START = Buffer.from(',"startTimeUnixNano":"');
const END = Buffer.from('000","endTimeUnixNano":"');
const ATTRIBUTES = Buffer.from('000","attributes":[');
const STATUS = Buffer.from(',"status":{"code":');

/**
 * Writes a span into `batch` as {@link spanJson} would, byte for byte, without making its JSON as a
 * string first: the fixed parts and each repeating name and attribute are copied from bytes made once,
 * ids written a character at a time, times as digits. A span with events, links, a trace state or a
 * status message (none of Laneway's own) goes through spanJson.
 */
function writeSpan(batch: Batch, span: SpanRecord, reserve: number): void {
  if (span.events?.length || span.links?.length || span.traceState || span.statusMessage) {
    batch.add(spanJson(span), reserve);
    return;
  }
  const name = nameBytes(span.name);
  // Everything but the attributes: the fixed parts (about 190 bytes with the status), three ids (64),
  // a name, two times of at most 16 digits, a kind and a status.
  let buffer = batch.room(320 + name.length, reserve);
  let at = batch.used;
  if (batch.count++) buffer[at++] = 0x2c; // ','
  at = copy(buffer, at, TRACE_ID);
  at = latin1(buffer, at, span.traceId);
  at = copy(buffer, at, SPAN_ID);
  at = latin1(buffer, at, span.spanId);
  if (span.parentSpanId) {
    at = copy(buffer, at, PARENT_ID);
    at = latin1(buffer, at, span.parentSpanId);
  }
  at = copy(buffer, at, NAME);
  at = copy(buffer, at, name);
  at = copy(buffer, at, KIND);
  at = digits(buffer, at, span.kind + 1);
  at = copy(buffer, at, START);
  at = digits(buffer, at, Math.round(span.startMs * 1000));
  at = copy(buffer, at, END);
  at = digits(buffer, at, Math.round(span.endMs * 1000));
  at = copy(buffer, at, ATTRIBUTES);
  let first = true;
  const attributes = span.attributes;
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    const one = attributeBytes(key, value);
    batch.used = at;
    buffer = batch.room(one.length + 40, reserve);
    if (!first) buffer[at++] = 0x2c;
    first = false;
    at = copy(buffer, at, one);
  }
  buffer[at++] = 0x5d; // ']'
  if (span.status) {
    at = copy(buffer, at, STATUS);
    at = digits(buffer, at, span.status);
    buffer[at++] = 0x7d; // '}'
  }
  buffer[at++] = 0x7d; // '}'
  batch.used = at;
}

function copy(buffer: Buffer, at: number, bytes: Uint8Array): number {
  buffer.set(bytes, at);
  return at + bytes.length;
}

/** An ASCII string (an id: hex digits), a byte per character. */
function latin1(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
  return at;
}

/** A whole number from 0 to 2^53 in decimal (as String(n) writes it), in two halves of eight digits at most. */
function digits(buffer: Buffer, at: number, n: number): number {
  const high = Math.floor(n / 1e8);
  let low = n - high * 1e8;
  let end = at;
  if (high > 0) {
    end = digits(buffer, at, high);
    for (let i = end + 7; i >= end; i--) {
      const q = (low / 10) | 0;
      buffer[i] = 0x30 + low - q * 10;
      low = q;
    }
    return end + 8;
  }
  let count = 1;
  for (let m = low; m >= 10; m = (m / 10) | 0) count++;
  for (let i = at + count - 1; i >= at; i--) {
    const q = (low / 10) | 0;
    buffer[i] = 0x30 + low - q * 10;
    low = q;
  }
  return at + count;
}

const namesBytes = new Map<string, Buffer>();

function nameBytes(name: string): Buffer {
  let bytes = namesBytes.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(ascii(name), 'latin1');
    if (namesBytes.size < NAMES) namesBytes.set(name, bytes);
  }
  return bytes;
}

// Each attribute's JSON, kept as bytes once per key and value while a key has few values (a method, a
// route, a status code): most of a span's attributes repeat from one request to the next. A key past
// VALUES_PER_KEY values (a URL path, a query) has its values encoded each time.
const VALUES_PER_KEY = 200;
const attributeByteCache = new Map<string, Map<AttributeValue, Buffer> | undefined>();

function attributeBytes(key: string, value: AttributeValue): Buffer {
  let values = attributeByteCache.get(key);
  if (values === undefined && !attributeByteCache.has(key) && attributeByteCache.size < 1000) attributeByteCache.set(key, (values = new Map()));
  let one = values?.get(value);
  if (one === undefined) {
    one = Buffer.from(attributeJson(key, value), 'latin1');
    if (values && typeof value !== 'object') {
      if (values.size < VALUES_PER_KEY) values.set(value, one);
      else attributeByteCache.set(key, undefined);
    }
  }
  return one;
}

/** {@link writeSpan}'s bytes for one span, as a string (what the tests compare with spanJson). */
export function writtenSpan(span: SpanRecord): string {
  const batch = new Batch(Buffer.allocUnsafe(64), Buffer.alloc(0));
  writeSpan(batch, span, 0);
  return batch.buffer.toString('latin1', 0, batch.used);
}

// Span names repeat (a route's, a service's): the bytes of the first NAMES of them are kept.
const NAMES = 1000;

/**
 * Attributes as OTLP JSON, made each time: the string form, for the resource and the spans written
 * through spanJson (writeSpan keeps each attribute's bytes instead).
 */
function attributesJson(attributes: Record<string, AttributeValue | undefined>): string {
  let json = '[';
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    const one = attributeJson(key, value);
    json += json.length > 1 ? `,${one}` : one;
  }
  return json + ']';
}

function attributeJson(key: string, value: AttributeValue): string {
  return `{"key":${ascii(key)},"value":${anyValueJson(value)}}`;
}

function anyValueJson(value: AttributeValue | null | undefined): string {
  switch (typeof value) {
    case 'string':
      return `{"stringValue":${ascii(value)}}`;
    case 'number':
      if (Number.isInteger(value)) return `{"intValue":${value}}`;
      return `{"doubleValue":${Number.isFinite(value) ? value : ascii(String(value))}}`;
    case 'boolean':
      return `{"boolValue":${value}}`;
    default:
      if (Array.isArray(value)) return `{"arrayValue":{"values":[${value.map((v) => (v === null || v === undefined ? '{}' : anyValueJson(v))).join(',')}]}}`;
      return '{}';
  }
}

const NON_ASCII = /[\u0080-\uffff]/;
const NON_ASCII_ALL = /[\u0080-\uffff]/g;

/**
 * A string as a JSON string of ASCII characters only: what JSON.stringify writes, with anything past
 * ASCII as a \u escape (a surrogate pair as two), so that a batch is written a byte per character.
 */
function ascii(value: string): string {
  const json = JSON.stringify(value);
  return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/**
 * Epoch milliseconds as nanoseconds in decimal, to the microsecond: epoch microseconds stay exact
 * integers in a double (below 2^53), nanoseconds would not.
 */
export function unixNano(ms: number): string {
  return `${Math.round(ms * 1000)}000`;
}

function settingsOf(env: NodeJS.ProcessEnv): Settings {
  const pick = (name: string): [string, string] | undefined => {
    for (const key of [`OTEL_EXPORTER_OTLP_TRACES_${name}`, `OTEL_EXPORTER_OTLP_${name}`]) {
      const value = env[key]?.trim();
      if (value) return [key, value];
    }
    return undefined;
  };
  const positive = (key: string, fallback: number): number => {
    const raw = env[key]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${key}=${JSON.stringify(raw)} is not a number of milliseconds or spans: give a whole number, 0 or more`);
    return value;
  };
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  // The signal's own endpoint is used as it is; the general one gets /v1/traces appended.
  const [key, raw] = traces ? ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces] : ['OTEL_EXPORTER_OTLP_ENDPOINT', `${(base ?? '').replace(/\/+$/, '')}/v1/traces`];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${key}=${JSON.stringify(traces ?? base)} is not a URL: give one like http://127.0.0.1:4318`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${key}=${JSON.stringify(traces ?? base)} is not an http or https URL`);
  const headers: Record<string, string> = {};
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    for (const pair of (env[name] ?? '').split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      headers[decodeURIComponent(pair.slice(0, eq).trim()).toLowerCase()] = decodeURIComponent(pair.slice(eq + 1).trim());
    }
  }
  const compression = pick('COMPRESSION');
  if (compression && compression[1] !== 'gzip' && compression[1] !== 'none') throw new Error(`${compression[0]}=${JSON.stringify(compression[1])} is not a compression: use gzip or none`);
  const timeout = pick('TIMEOUT');
  const file = (name: string): Buffer | undefined => {
    const found = pick(name);
    if (!found) return undefined;
    try {
      return readFileSync(found[1]);
    } catch (err) {
      throw new Error(`${found[0]}=${JSON.stringify(found[1])} cannot be read: ${(err as Error).message}`);
    }
  };
  const maxBatch = Math.max(1, positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512));
  return {
    url,
    headers,
    gzip: compression?.[1] === 'gzip',
    timeoutMs: timeout ? positive(timeout[0], 10_000) : 10_000,
    scheduleDelayMs: positive('OTEL_BSP_SCHEDULE_DELAY', 5000),
    exportTimeoutMs: positive('OTEL_BSP_EXPORT_TIMEOUT', 30_000),
    maxBatch,
    maxQueue: Math.max(maxBatch, positive('OTEL_BSP_MAX_QUEUE_SIZE', 2048)),
    tls: { ca: file('CERTIFICATE'), key: file('CLIENT_KEY'), cert: file('CLIENT_CERTIFICATE') },
  };
}
