import type { AmqpPublisher, RedisClient, RestClient, SqlClient } from './connections';
import type { HttpRequestInfo } from './http-request';
import type { ServiceLogger } from './service-logger';

/** Options of {@link ServiceContext.invoke}. */
export interface InvokeOptions {
  /** How long to wait for the other service's output, in milliseconds. Defaults to the caller's remaining time, or 30 s. */
  timeoutMs?: number;
}

/**
 * What a running service can see and do besides its input. One context per invocation.
 */
export interface ServiceContext {
  /** The invoked service's name. */
  readonly service: string;
  /** The version (content hash) of the code that is running. */
  readonly version: string;
  /** The name of the server replica running this invocation. */
  readonly server: string;
  /** The cluster the service is deployed to. */
  readonly cluster: string;
  /** An id unique to this invocation, for logs and tracing. */
  readonly invocationId: string;
  /** Aborted when the invocation's deadline passes or the server shuts down: pass it to I/O calls. */
  readonly signal: AbortSignal;
  /**
   * The HTTP request, when the invocation came through a REST channel; absent otherwise. Answer
   * with a status, headers or a non-JSON body by returning `httpResponse(...)`'s result.
   */
  readonly http?: HttpRequestInfo;
  /** Logger carrying `{ cluster, server, service, invocationId }`. */
  readonly log: ServiceLogger;
  /**
   * Invokes another service of the same cluster and waits for its output. The server picks the
   * cheapest path: a direct call when the target is a network-lane service loaded on this server,
   * otherwise the target's lane queue.
   *
   * @throws {@link ServiceInvocationError} when the target is unknown, fails or times out.
   * @example
   * const rates = await ctx.invoke<{ usd: number }>('fx.rates', { base: 'EUR' });
   */
  invoke<TOutput = unknown>(service: string, input?: unknown, options?: InvokeOptions): Promise<TOutput>;
  /**
   * Queues a durable invocation of another service of the same cluster and returns its job id at
   * once. The job survives server crashes, is retried with exponential backoff up to the target's
   * `attempts` (default 3), and is kept as failed after that (see the `ListFailedJobs` RPC).
   * Execution is at least once: make side effects idempotent, e.g. keyed by `ctx.invocationId`.
   *
   * @example
   * const jobId = await ctx.invokeAsync('mail.send', { to: input.email });
   */
  invokeAsync(service: string, input?: unknown): Promise<string>;
  /**
   * A SQL connection of the cluster (PostgreSQL or MySQL / MariaDB) as a pooled Kysely instance.
   * The service must declare it in `connections`; an unknown or undeclared name throws, naming it.
   *
   * @example
   * const row = await ctx.sql('billing').selectFrom('invoice').selectAll().where('id', '=', input.id).executeTakeFirst();
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sql<DB = any>(connection: string): SqlClient<DB>;
  /** An HTTP API of the cluster (a REST connection): `ctx.rest('crm').get('/customers/1')`. */
  rest(connection: string): RestClient;
  /** A Redis connection of the cluster: a shared ioredis client with the connection's key prefix. */
  redis(connection: string): RedisClient;
  /** A RabbitMQ connection of the cluster: `ctx.amqp('events').publish(exchange, routingKey, message)`. */
  amqp(connection: string): AmqpPublisher;
}
