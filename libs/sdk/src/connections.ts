// The SDK never loads kysely or ioredis (its lint rule bans importing them): these imports are
// type-only and erased on compilation; the server passes the real instances (libs/connectors).
// eslint-disable-next-line no-restricted-imports
import type { Kysely } from 'kysely';
// eslint-disable-next-line no-restricted-imports
import type { Redis } from 'ioredis';

/**
 * A SQL connection (PostgreSQL or MySQL / MariaDB) as a pooled Kysely instance. Type it with your
 * tables for checked queries; `any` accepts every table.
 *
 * The instance is shared by every invocation on the thread: do not call `destroy()` on it (the server
 * owns the pool, and moves calls to a new one when the connection's settings change).
 *
 * @example
 * interface CrmTables { customer: { id: string; name: string } }
 * const db = ctx.sql<CrmTables>('crm');
 * const row = await db.selectFrom('customer').selectAll().where('id', '=', input.id).executeTakeFirst();
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SqlClient<DB = any> = Kysely<DB>;

/**
 * A Redis connection: a shared ioredis client whose keys carry the connection's `key_prefix`.
 * Take it from the context for each use (`ctx.redis('cache').get(...)`) rather than keeping it
 * across invocations: a settings change swaps the client, and the old one is closed once its
 * commands are answered. Do not call `quit()` or `disconnect()` on it.
 */
export type RedisClient = Redis;

/** A query string value; arrays repeat the parameter (`?tag=a&tag=b`), `undefined` and `null` omit it. */
export type RestQueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** Per-call options of a {@link RestClient} call. */
export interface RestRequestOptions {
  /** Added to the connection's default headers (and override them, compared case-insensitively). */
  headers?: Record<string, string>;
  /** Appended to the path as a query string. */
  query?: Record<string, RestQueryValue>;
  /** Deadline of each attempt in milliseconds; defaults to the connection's `timeout_ms` (10 s). */
  timeoutMs?: number;
  /** Cancels the call (pass `ctx.signal`). */
  signal?: AbortSignal;
}

/** What an HTTP API answered. Any status resolves: check `status` yourself. */
export interface RestResponse<TBody = unknown> {
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Parsed when the answer's content type is JSON (`application/json`, `*+json`), text otherwise. */
  body: TBody;
}

/**
 * An HTTP API defined as a REST connection: paths are relative to its `base_url`, and its default
 * headers and credentials go with every call.
 *
 * A body that is a string or a `Uint8Array` is sent as is; anything else is sent as JSON.
 * GET, PUT and DELETE are retried the connection's `retries` times after a network error, a timeout
 * or a 502/503/504; POST and PATCH never are. The promise rejects only when no answer came
 * (unreachable, refused, timed out, cancelled), with an error naming the connection.
 *
 * @example
 * const res = await ctx.rest('billing').post('/invoices', { customer: input.id }, { signal: ctx.signal });
 * if (res.status !== 201) throw new Error(`billing answered ${res.status}`);
 */
export interface RestClient {
  get<TBody = unknown>(path: string, options?: RestRequestOptions): Promise<RestResponse<TBody>>;
  delete<TBody = unknown>(path: string, options?: RestRequestOptions): Promise<RestResponse<TBody>>;
  post<TBody = unknown>(path: string, body?: unknown, options?: RestRequestOptions): Promise<RestResponse<TBody>>;
  put<TBody = unknown>(path: string, body?: unknown, options?: RestRequestOptions): Promise<RestResponse<TBody>>;
  patch<TBody = unknown>(path: string, body?: unknown, options?: RestRequestOptions): Promise<RestResponse<TBody>>;
}

/** Options of {@link AmqpPublisher.publish}. */
export interface AmqpPublishOptions {
  /** AMQP message headers. */
  headers?: Record<string, unknown>;
  /** Stored on disk by the broker (delivery mode 2) when the queue is durable. Default false. */
  persistent?: boolean;
  /** Defaults to `application/json` for objects, `text/plain` for strings, none for bytes. */
  contentType?: string;
}

/**
 * A RabbitMQ (AMQP 0-9-1) connection. With the connection's `confirm` setting, `publish` resolves once
 * the broker has taken the message (and rejects when it refused it); without, once it is written.
 *
 * @example
 * await ctx.amqp('events').publish('orders', 'order.created', { id: input.id }, { persistent: true });
 */
export interface AmqpPublisher {
  /** Sends `message`: objects as JSON, strings and `Uint8Array`s as they are. */
  publish(exchange: string, routingKey: string, message: unknown, options?: AmqpPublishOptions): Promise<void>;
}
