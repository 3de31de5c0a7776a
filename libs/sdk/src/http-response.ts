/**
 * The property that marks a value returned by {@link httpResponse}. A plain string key, not a symbol,
 * so that the mark survives the copies an output goes through (worker threads, Redis).
 */
export const HTTP_RESPONSE_MARK = 'laneway.httpResponse';

/** What a service passes to {@link httpResponse}. */
export interface HttpResponseInit {
  /** The status code, a whole number from 200 to 599; default 200. */
  status?: number;
  /** Response headers. `content-length`, `transfer-encoding`, `connection` and `x-request-id` are set by the server. */
  headers?: Record<string, string>;
  /**
   * The body. A string is sent as it is (default content type `text/plain; charset=utf-8`), a
   * `Uint8Array` (or `Buffer`) as bytes (`application/octet-stream`), anything else as JSON
   * (`application/json`); `undefined` sends no body.
   */
  body?: unknown;
}

/** A response as a REST channel sends it: made by {@link httpResponse}; JSON-serialisable. */
export interface HttpResponse {
  readonly [HTTP_RESPONSE_MARK]: true;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** How {@link HttpResponse.body} is encoded: as text, as base64 of the bytes, or a JSON value. */
  readonly encoding: 'text' | 'base64' | 'json' | 'none';
  readonly body: unknown;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, spaces and tabs, and Latin-1: what Node accepts in a header value.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Shapes a service's HTTP answer when it is invoked through a REST channel: its status, headers and
 * a body that need not be JSON. Return its result from `handle`. Outside a channel (gRPC `Invoke`,
 * `ctx.invoke`) the result is an ordinary output value.
 *
 * @throws TypeError naming the field and value when the status or a header is invalid.
 * @example
 * import { defineService, httpResponse } from '@laneway/sdk';
 *
 * export default defineService({
 *   name: 'crm.create-customer',
 *   handle(input: { name: string }) {
 *     return httpResponse({ status: 201, headers: { location: '/customers/7' }, body: { id: 7 } });
 *   },
 * });
 */
export function httpResponse(init: HttpResponseInit = {}): HttpResponse {
  const status = init.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new TypeError(`httpResponse: status ${String(status)} is invalid; use a whole number from 200 to 599`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(init.headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`httpResponse: header name '${name}' is invalid`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw new TypeError(`httpResponse: header '${name}' has value ${JSON.stringify(value) ?? String(value)}; use a string without control characters`);
    }
    headers[name.toLowerCase()] = value;
  }
  const { body } = init;
  if (body === undefined) return freeze(status, headers, 'none', null);
  if (typeof body === 'string') return freeze(status, headers, 'text', body);
  if (body instanceof Uint8Array) return freeze(status, headers, 'base64', toBase64(body));
  return freeze(status, headers, 'json', body);
}

/** True when `value` was made by {@link httpResponse} (also after a copy between threads or servers). */
export function isHttpResponse(value: unknown): value is HttpResponse {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[HTTP_RESPONSE_MARK] === true;
}

function freeze(status: number, headers: Record<string, string>, encoding: HttpResponse['encoding'], body: unknown): HttpResponse {
  return Object.freeze({ [HTTP_RESPONSE_MARK]: true as const, status, headers: Object.freeze(headers), encoding, body });
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // In chunks: String.fromCharCode takes its bytes as arguments, and arguments are limited.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
