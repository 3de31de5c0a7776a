/**
 * The HTTP request behind an invocation made through a REST channel, as `ctx.http` shows it. Plain
 * JSON data, so that it reaches the service unchanged whether it runs on the event loop, in a CPU
 * thread or on another server.
 */
export interface HttpRequestInfo {
  /** The channel (route) that matched, by name. */
  readonly channel: string;
  /** The request's method, upper case: `GET`, `POST`, `PUT`, `PATCH` or `DELETE`. */
  readonly method: string;
  /** The request's path as received (still percent-encoded), without the query string. */
  readonly path: string;
  /** Request headers, names in lower case; repeated headers are joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The decoded query string; a name given more than once maps to an array of its values. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /** The decoded path parameters, e.g. `{ id: '42' }` for `/customers/:id` and `/customers/42`. */
  readonly params: Readonly<Record<string, string>>;
  /** The request body as UTF-8 text (`''` when there was none). */
  readonly rawBody: string;
  /** The request's id, as sent back in the `x-request-id` header (the client's own when it sent a sane one). */
  readonly requestId: string;
}
