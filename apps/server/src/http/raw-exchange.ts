import type http from 'node:http';
import type { Span } from '@opentelemetry/api';

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
 * writeHead + end.
 */
export class RawReply implements ChannelHttpReply {
  private status = 200;
  private readonly values: Record<string, string> = {};
  private sent = false;
  /** With tracing on, the request's span: `onSent` ends it (kept here, not on the node response, whose shape node's own code relies on). */
  span: Span | undefined = undefined;

  constructor(
    private readonly res: http.ServerResponse,
    readonly request: { readonly id: string },
    /** Told of the answer once it is written (the metrics, the span; one shared function, no closure per request). */
    private readonly onSent?: (res: http.ServerResponse, status: number, reply: RawReply) => void,
  ) {}

  get raw(): http.ServerResponse {
    return this.res;
  }

  header(name: string, value: string): this {
    this.values[name.toLowerCase()] = value;
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
    this.values['content-type'] = contentType;
    return this;
  }

  hasHeader(name: string): boolean {
    return name.toLowerCase() in this.values;
  }

  send(payload?: string | Buffer): this {
    if (this.sent) return this;
    this.sent = true;
    const type = this.values['content-type'];
    if (typeof payload === 'string') {
      if (type === undefined) this.values['content-type'] = 'text/plain; charset=utf-8';
      else if (type.includes('json') && !/;\s*charset=/i.test(type)) this.values['content-type'] = `${type}; charset=utf-8`;
      this.values['content-length'] = String(Buffer.byteLength(payload));
    } else if (payload !== undefined) {
      if (type === undefined) this.values['content-type'] = 'application/octet-stream';
      this.values['content-length'] = String(payload.length);
    } else {
      this.values['content-length'] = '0';
    }
    this.res.writeHead(this.status, this.values);
    this.res.end(payload);
    this.onSent?.(this.res, this.status, this);
    return this;
  }
}
