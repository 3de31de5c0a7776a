import type http from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { RouteSeries } from '../metrics/server-metrics';

/** What the channel steps read of a request: the part of FastifyRequest they use. */
export interface ChannelHttpRequest {
  readonly id: string;
  readonly method: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: { readonly url?: string | undefined; readonly headers: http.IncomingHttpHeaders };
  readonly body: unknown;
  readonly ip: string;
}

/** What the channel steps do with an answer: the part of FastifyReply they use. */
export interface ChannelHttpReply {
  readonly request: { readonly id: string };
  /** The node response (its 'close' ends a request's span when tracing is on). */
  readonly raw: http.ServerResponse;
  header(name: string, value: string): ChannelHttpReply;
  headers(values: Record<string, string>): ChannelHttpReply;
  code(status: number): ChannelHttpReply;
  type(contentType: string): ChannelHttpReply;
  hasHeader(name: string): boolean;
  send(payload?: string | Buffer): ChannelHttpReply;
}

/** A bodiless request taken straight from node:http (see RawReply). */
export class RawRequest implements ChannelHttpRequest {
  readonly body = undefined;

  constructor(
    readonly raw: http.IncomingMessage,
    readonly id: string,
  ) {}

  get method(): string {
    return this.raw.method ?? 'GET';
  }

  get headers(): http.IncomingHttpHeaders {
    return this.raw.headers;
  }

  get ip(): string {
    return this.raw.socket.remoteAddress ?? '';
  }
}

/**
 * The answer to a channel request that did not go through fastify's request and reply objects: the
 * same headers, status and content types fastify's reply would send (JSON gets `charset=utf-8`, a
 * string without a type is text/plain, a Buffer application/octet-stream), written with one
 * writeHead + end. The headers every answer has (content type, x-request-id) are fields, the rest a
 * short list: node gets one flat array, with no object of headers built per request.
 */
export class RawReply implements ChannelHttpReply {
  private status = 200;
  private contentType: string | undefined = undefined;
  private requestId: string | undefined = undefined;
  /** Other headers: lower-case name, value, name, value... (most answers have none). */
  private others: string[] | undefined = undefined;
  private sent = false;
  /** With tracing on, the request's span: `onSent` ends it (kept here, not on the node response, whose shape node's own code relies on). */
  span: Span | undefined = undefined;
  /** With metrics on, the series of the route that took the request (unset: unmatched). */
  series: RouteSeries | undefined = undefined;

  constructor(
    private readonly res: http.ServerResponse,
    readonly request: { readonly id: string },
    /** Told of the answer once it is written (the metrics, the span; one shared function, no closure per request). */
    private readonly onSent?: (res: http.ServerResponse, status: number, reply: RawReply) => void,
    /** When the request arrived (performance.now()), for the metrics. */
    readonly started = 0,
  ) {}

  get raw(): http.ServerResponse {
    return this.res;
  }

  header(name: string, value: string): this {
    const key = name.toLowerCase();
    if (key === 'content-type') this.contentType = value;
    else if (key === 'x-request-id') this.requestId = value;
    else {
      const others = (this.others ??= []);
      const at = nameAt(others, key);
      if (at >= 0) others[at + 1] = value;
      else others.push(key, value);
    }
    return this;
  }

  headers(values: Record<string, string>): this {
    for (const name in values) this.header(name, values[name]!);
    return this;
  }

  code(status: number): this {
    this.status = status;
    return this;
  }

  type(contentType: string): this {
    this.contentType = contentType;
    return this;
  }

  hasHeader(name: string): boolean {
    const key = name.toLowerCase();
    if (key === 'content-type') return this.contentType !== undefined;
    if (key === 'x-request-id') return this.requestId !== undefined;
    return this.others !== undefined && nameAt(this.others, key) >= 0;
  }

  send(payload?: string | Buffer): this {
    if (this.sent) return this;
    this.sent = true;
    let type = this.contentType;
    let length: number;
    if (typeof payload === 'string') {
      type = type === undefined ? TEXT : withCharset(type);
      length = Buffer.byteLength(payload);
    } else if (payload !== undefined) {
      type ??= OCTETS;
      length = payload.length;
    } else {
      length = 0;
    }
    const head: string[] = ['content-length', String(length)];
    if (type !== undefined) head.push('content-type', type);
    if (this.requestId !== undefined) head.push('x-request-id', this.requestId);
    if (this.others) head.push(...this.others);
    this.res.writeHead(this.status, head);
    this.res.end(payload);
    this.onSent?.(this.res, this.status, this);
    return this;
  }
}

const TEXT = 'text/plain; charset=utf-8';
const OCTETS = 'application/octet-stream';
const JSON_TYPE = 'application/json';
const JSON_UTF8 = 'application/json; charset=utf-8';

/** Where header `name` is in a flat name, value... list, or -1. */
function nameAt(list: readonly string[], name: string): number {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return i;
  return -1;
}

/** A JSON content type with `charset=utf-8` added where it names none (as fastify sends strings). */
function withCharset(type: string): string {
  if (type === JSON_TYPE) return JSON_UTF8;
  return type.includes('json') && !/;\s*charset=/i.test(type) ? `${type}; charset=utf-8` : type;
}
