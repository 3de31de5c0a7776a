import { rootCertificates } from 'node:tls';
import type { RestConnection } from '@laneway/proto';
import type { RestQueryValue, RestRequestOptions, RestResponse } from '@laneway/sdk';
import type { Dispatcher, Pool } from 'undici';
import { undici } from '../drivers';
import { ConnectionError } from '../connection-error';
import { connectionFailure, prefix, type ConnectionInfo } from '../connection-info';
import type { Backend } from '../slot';

const DEFAULT_TIMEOUT_MS = 10_000;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
/** Timeouts shorter than this get a timer of their own (undici's tick every half second or so). */
const PRECISE_BELOW_MS = 2000;
const RETRY_STATUSES = new Set([502, 503, 504]);
const RETRY_BASE_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 1_000;

export interface RestCall {
  method: string;
  path: string;
  body?: unknown;
  options?: RestRequestOptions;
  /** Attempts in all; defaults to 1 + the connection's `retries` for idempotent methods, else 1. */
  attempts?: number;
}

/** An undici pool to the connection's origin, with its base path, default headers and credentials. */
export class RestBackend implements Backend {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(
    private readonly spec: RestConnection,
    private readonly info: ConnectionInfo,
  ) {
    let base: URL;
    try {
      base = new URL(spec.baseUrl);
    } catch {
      throw new ConnectionError(`${prefix(info)}: base_url is not a URL`, { code: 'FAILED', connection: info.name, kind: info.kind, target: info.target });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ConnectionError(`${prefix(info)}: base_url must be http:// or https://, not ${base.protocol}//`, {
        code: 'FAILED',
        connection: info.name,
        kind: info.kind,
        target: info.target,
      });
    }
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.timeoutMs = spec.timeoutMs || DEFAULT_TIMEOUT_MS;
    this.pool = new (undici().Pool)(base.origin, {
      connect: {
        timeout: this.timeoutMs,
        ...(spec.caPem ? { ca: [...rootCertificates, spec.caPem] } : {}),
      },
    });
    this.headers = {};
    for (const [name, value] of Object.entries(spec.headers)) this.headers[name.toLowerCase()] = value;
    if (spec.basic) {
      this.headers['authorization'] = `Basic ${Buffer.from(`${spec.basic.username}:${spec.basic.password}`).toString('base64')}`;
    } else if (spec.bearer) {
      this.headers['authorization'] = `Bearer ${spec.bearer.token}`;
    } else if (spec.apiKey) {
      this.headers[spec.apiKey.header.toLowerCase()] = spec.apiKey.key;
    }
  }

  async call(call: RestCall): Promise<RestResponse> {
    const method = call.method.toUpperCase();
    const attempts = call.attempts ?? (IDEMPOTENT.has(method) ? 1 + this.spec.retries : 1);
    const signal = call.options?.signal;
    const { body, contentType } = encodeBody(call.body);
    const headers: Record<string, string> = { accept: 'application/json, */*;q=0.5', ...this.headers };
    if (contentType) headers['content-type'] = contentType;
    for (const [name, value] of Object.entries(call.options?.headers ?? {})) headers[name.toLowerCase()] = value;
    const pathOnly = this.basePath + (call.path.startsWith('/') ? call.path : `/${call.path}`);
    const path = pathOnly + queryString(call.options?.query);
    const timeoutMs = call.options?.timeoutMs ?? this.timeoutMs;

    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts;
      let outcome: RestResponse;
      try {
        outcome = await this.attempt(method, path, `${method} ${pathOnly.split('?')[0]}`, headers, body, timeoutMs, signal, last);
      } catch (err) {
        if (last || signal?.aborted) throw err;
        await pause(retryDelay(attempt), signal);
        continue;
      }
      if (last || !RETRY_STATUSES.has(outcome.status)) return outcome;
      await pause(retryDelay(attempt), signal);
    }
  }

  /**
   * One attempt. Below PRECISE_BELOW_MS the deadline covers the answer's headers and its whole body,
   * with a timer and an AbortController of its own; from there up, undici's own timers bound the
   * headers and each pause in the body (they tick every half second or so, and cost nothing per
   * call: the timer and controller per call made ctx.rest about 1.3x plain undici in the
   * connections benchmark).
   */
  private async attempt(
    method: string,
    path: string,
    /** Method and path without the query string (which may carry tokens) for error messages. */
    label: string,
    headers: Record<string, string>,
    body: string | Uint8Array | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    last: boolean,
  ): Promise<RestResponse> {
    if (signal?.aborted) throw this.aborted(label, signal.reason);
    if (timeoutMs >= PRECISE_BELOW_MS) {
      try {
        return await this.answer(
          await this.pool.request({ method: method as Dispatcher.HttpMethod, path, headers, body, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
          last,
        );
      } catch (err) {
        const code = (err as { code?: string } | null)?.code;
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
          throw connectionFailure(this.info, new Error(`${label}: no complete answer within ${timeoutMs} ms`), 'TIMEOUT');
        }
        if (signal?.aborted) throw this.aborted(label, signal.reason);
        throw connectionFailure(this.info, withRequest(err, label));
      }
    }
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.answer(await this.pool.request({ method: method as Dispatcher.HttpMethod, path, headers, body, signal: controller.signal }), last);
    } catch (err) {
      if (timedOut) {
        throw connectionFailure(this.info, new Error(`${label}: no complete answer within ${timeoutMs} ms`), 'TIMEOUT');
      }
      if (signal?.aborted) throw this.aborted(label, signal.reason);
      throw connectionFailure(this.info, withRequest(err, label));
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async answer(res: Dispatcher.ResponseData, last: boolean): Promise<RestResponse> {
    if (!last && RETRY_STATUSES.has(res.statusCode)) {
      await res.body.dump();
      return { status: res.statusCode, headers: {}, body: undefined };
    }
    const text = await res.body.text();
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body: decodeBody(text, res.headers['content-type']) };
  }

  private aborted(label: string, reason: unknown): ConnectionError {
    return new ConnectionError(`${prefix(this.info)}: ${label} cancelled`, {
      code: 'ABORTED',
      connection: this.info.name,
      kind: this.info.kind,
      target: this.info.target,
      cause: reason,
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function withRequest(err: unknown, label: string): unknown {
  if (err instanceof Error) err.message = `${label}: ${err.message || (err as { code?: string }).code || err.name}`;
  return err;
}

function encodeBody(body: unknown): { body: string | Uint8Array | undefined; contentType: string | undefined } {
  if (body === undefined) return { body: undefined, contentType: undefined };
  if (typeof body === 'string') return { body, contentType: 'text/plain; charset=utf-8' };
  if (body instanceof Uint8Array) return { body, contentType: 'application/octet-stream' };
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

function decodeBody(text: string, contentType: string | string[] | undefined): unknown {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType) ?? '';
  if (text.length > 0 && /^application\/(?:[\w.+-]+\+)?json\b/i.test(type.trim())) {
    try {
      return JSON.parse(text);
    } catch {
      // Labelled JSON but not: the text is the most useful thing to hand back.
    }
  }
  return text;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function queryString(query: Record<string, RestQueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) params.append(name, String(item));
    else params.append(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function retryDelay(attempt: number): number {
  return Math.min(RETRY_BASE_DELAY_MS * 2 ** (attempt - 1), RETRY_MAX_DELAY_MS);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    // On abort, the next attempt sees the signal and throws ABORTED.
    signal?.addEventListener('abort', done, { once: true });
  });
}
