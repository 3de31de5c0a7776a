import type { AmqpPublisher, HttpRequestInfo, InvokeOptions, RedisClient, RestClient, ServiceContext, ServiceLogger, SqlClient } from '@laneway/sdk';
import { tracing, type Tracing } from '@laneway/lanes/tracing';
import type { Span } from '@opentelemetry/api';
import { endSpan } from '../tracing/spans';

/** The pooled clients of this thread's connections (a `Connectors` of @laneway/connectors). */
export interface ConnectionClients {
  sql(name: string): SqlClient;
  rest(name: string): RestClient;
  redis(name: string): RedisClient;
  amqp(name: string): AmqpPublisher;
}

/**
 * What a context needs from the thread it runs in: the main thread's invoker, or a CPU thread that
 * asks the main thread. The one {@link InvocationContext} is built over either.
 */
export interface ContextHost {
  readonly cluster: string;
  readonly server: string;
  /**
   * `ctx.invoke`: `deadline` is the calling invocation's (epoch ms), for a default timeout; `span`
   * (tracing on) the call's span, which the invocation continues.
   */
  invoke(target: string, input: unknown, timeoutMs: number | undefined, deadline: number | undefined, span: Span | undefined): Promise<unknown>;
  invokeAsync(target: string, input: unknown, span: Span | undefined): Promise<string>;
  /** A logger carrying the invocation's fields. */
  logger(service: string, invocationId: string): ServiceLogger;
  /** This thread's connections. */
  readonly connections: ConnectionClients;
}

/**
 * The `ctx` of one invocation, on either lane. A class (getters on its prototype) rather than an
 * object literal with accessors: one of these is made per request, and the literal's accessor pairs
 * and closures showed in a profile of the channel path. The logger and the signal are made on first
 * use; most handlers never touch them. `invoke` and `invokeAsync` are bound, so `const { invoke } = ctx` works.
 */
export class InvocationContext implements ServiceContext {
  private logger: ServiceLogger | undefined;
  private controller: AbortController | undefined;

  constructor(
    private readonly host: ContextHost,
    readonly service: string,
    readonly version: string,
    readonly invocationId: string,
    private readonly deadline: number | undefined,
    readonly http: HttpRequestInfo | undefined,
    /** The connections the service declares: the only ones ctx reaches. */
    private readonly declared: readonly string[],
    /** A signal owned by the caller (a CPU thread's per-job signal); otherwise one is made on first use. */
    private readonly givenSignal?: AbortSignal,
    /** With tracing on: the invocation's span, parent of ctx.invoke's (else the active context's span is). */
    private readonly span?: Span,
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sql<DB = any>(name: string): SqlClient<DB> {
    return this.connection(name).sql(name) as SqlClient<DB>;
  }

  rest(name: string): RestClient {
    return this.connection(name).rest(name);
  }

  redis(name: string): RedisClient {
    return this.connection(name).redis(name);
  }

  amqp(name: string): AmqpPublisher {
    return this.connection(name).amqp(name);
  }

  private connection(name: string): ConnectionClients {
    if (!this.declared.includes(name)) {
      throw new Error(
        `service '${this.service}' uses connection '${name}' without declaring it: add it to \`connections\` in its defineService (it declares ${this.declared.length ? this.declared.map((d) => `'${d}'`).join(', ') : 'none'})`,
      );
    }
    return this.host.connections;
  }

  get cluster(): string {
    return this.host.cluster;
  }

  get server(): string {
    return this.host.server;
  }

  get signal(): AbortSignal {
    return this.givenSignal ?? (this.controller ??= new AbortController()).signal;
  }

  get log(): ServiceLogger {
    return (this.logger ??= this.host.logger(this.service, this.invocationId));
  }

  /** Aborts the signal (the deadline passed): a no-op when nobody asked for it yet and it was not given. */
  abort(): void {
    if (this.givenSignal) return;
    (this.controller ??= new AbortController()).abort();
  }

  readonly invoke = <T>(target: string, input?: unknown, options?: InvokeOptions): Promise<T> => {
    const t = tracing();
    if (t) return traced(t, this.service, target, false, this.span, (span) => this.host.invoke(target, input ?? null, options?.timeoutMs, this.deadline, span)) as Promise<T>;
    return this.host.invoke(target, input ?? null, options?.timeoutMs, this.deadline, undefined) as Promise<T>;
  };

  readonly invokeAsync = (target: string, input?: unknown): Promise<string> => {
    const t = tracing();
    if (t) return traced(t, this.service, target, true, this.span, (span) => this.host.invokeAsync(target, input ?? null, span));
    return this.host.invokeAsync(target, input ?? null, undefined);
  };
}

/**
 * `ctx.invoke` (CLIENT) or `ctx.invokeAsync` (PRODUCER) as a child span of the caller's (`parent`,
 * else the active context's): the call gets the span, so a job it queues carries it and the run of
 * the target is its child.
 */
function traced<T>(t: Tracing, caller: string, target: string, async: boolean, parent: Span | undefined, call: (span: Span) => Promise<T>): Promise<T> {
  const { api } = t;
  const context = parent ? api.trace.setSpan(api.ROOT_CONTEXT, parent) : api.context.active();
  const span = t.tracer.startSpan(
    `${async ? 'invokeAsync' : 'invoke'} ${target}`,
    {
      kind: async ? api.SpanKind.PRODUCER : api.SpanKind.CLIENT,
      attributes: { 'laneway.service': target, 'laneway.caller': caller },
    },
    context,
  );
  let pending: Promise<T>;
  try {
    pending = call(span);
  } catch (err) {
    endSpan(t, span, err);
    throw err;
  }
  return pending.then(
    (value) => {
      endSpan(t, span);
      return value;
    },
    (err: unknown) => {
      endSpan(t, span, err);
      throw err;
    },
  );
}
