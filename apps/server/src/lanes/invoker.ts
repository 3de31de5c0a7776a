import { tracing, type InvocationJob, type InvocationReply, type LaneClient } from '@laneway/lanes';
import type { Span } from '@opentelemetry/api';
import { ServiceInvocationError, type HttpRequestInfo, type InvocationErrorCode, validateWithSchema } from '@laneway/sdk';
import type { Logger } from 'pino';
import { InvocationContext, type ConnectionClients, type ContextHost } from '../context/invocation-context';
import type { CpuPool } from '../cpu/cpu-pool';
import type { ServerMetrics } from '../metrics/server-metrics';
import type { RegisteredService, ServiceRegistry } from '../registry/service-registry';
import { inputRejection } from './input-rejection';
import { notRetryable } from './not-retryable';

export interface InvokerOptions {
  cluster: string;
  server: string;
  registry: ServiceRegistry;
  pool: CpuPool;
  /** For ctx.invoke of services that cannot run in-process here. */
  lanes: LaneClient;
  logger: Logger;
  /** Deadline of CPU-lane jobs that carry none (async jobs). */
  cpuJobTimeoutMs: number;
  /** This thread's outgoing connections (ctx.sql, ctx.rest, ...). */
  connections: ConnectionClients;
  /** Where each invocation run here is counted and timed (by service and lane); absent with metrics off. */
  metrics?: ServerMetrics | undefined;
}

const DEFAULT_NESTED_TIMEOUT_MS = 30_000;

/** One call from a REST channel (see {@link Invoker.invokeFromChannel}). */
export interface ChannelCall {
  /** Epoch ms by which the answer is due (the channel's timeout). */
  deadline: number;
  /** What the service sees as `ctx.http`. */
  http: HttpRequestInfo;
  /** With tracing on: the request's span, which the invocation continues. */
  span: Span | undefined;
}

/** How a channel call ended; `via` says where it ran. */
export type ChannelOutcome =
  | { ok: true; output: unknown; version: string; via: ChannelPath }
  | { ok: false; code: InvocationErrorCode; message: string; via: ChannelPath };

/** Where a channel call ran: on this server's event loop, in its CPU pool, or through the lane queue. */
export type ChannelPath = 'network' | 'cpu' | 'queue';

/**
 * Runs one invocation on this server, whichever lane its service is in, and shapes the reply.
 * Applies the service's policy: its timeout caps the deadline, its concurrency cap queues the excess.
 */
export class Invoker {
  private sequence = 0;
  private readonly bulkheads = new Map<string, { active: number; waiting: (() => void)[] }>();
  /** What the contexts of this thread's invocations call. */
  private readonly host: ContextHost;

  constructor(private readonly options: InvokerOptions) {
    const { cluster, server, logger, connections } = options;
    this.host = {
      cluster,
      server,
      connections,
      invoke: (target, input, timeoutMs, deadline, span) => this.invokeFromService(target, input, timeoutMs, deadline, span),
      invokeAsync: (target, input, span) => this.invokeAsyncFromService(target, input, undefined, span),
      logger: (service, invocationId) => logger.child({ service, invocationId }),
    };
  }

  /** Runs a lane job taken here; `span` (tracing on) is the job's span, which the invocation continues. */
  async run(job: InvocationJob, span?: Span): Promise<InvocationReply> {
    const { registry, server } = this.options;
    const c = job.c ?? '';
    const service = registry.get(job.s);
    if (!service) {
      return {
        c,
        ok: false,
        e: {
          code: 'NOT_FOUND',
          message: `service '${job.s}' is not deployed on server '${server}' (revision ${registry.revision})`,
        },
        srv: server,
      };
    }
    const policyTimeout = service.policy?.timeoutMs || 0;
    // A sync job carries its caller's deadline; an async one gets the service's timeout or the default.
    let deadline = job.d ?? Date.now() + (policyTimeout || this.options.cpuJobTimeoutMs);
    if (policyTimeout) deadline = Math.min(deadline, Date.now() + policyTimeout);
    // Most services have no concurrency cap: no await (and no extra turn) for them.
    const release = service.policy?.concurrency ? await this.acquire(service) : noop;
    const started = this.options.metrics ? performance.now() : 0;
    let ok = false;
    try {
      if (service.lane === 'cpu') {
        const result = await this.options.pool.run(service.name, job.i, job.id, deadline, job.h, traceparentOf(span));
        ok = result.ok;
        return result.ok
          ? { c, ok: true, o: result.output, srv: server, v: result.version }
          : { c, ok: false, e: { code: result.code, message: result.message, ...(result.retryable === false ? { retryable: false } : {}) }, srv: server, v: result.version };
      }
      const output = await this.runNetwork(service, job.i, job.id, deadline, job.h, span);
      ok = true;
      return { c, ok: true, o: output ?? null, srv: server, v: service.version };
    } catch (err) {
      return { c, ok: false, e: failureOf(service.name, err), srv: server, v: service.version };
    } finally {
      release();
      if (this.options.metrics) this.measured(service, started, ok);
    }
  }

  /**
   * A REST channel's call: run here, in the service's lane, when the service is loaded on this
   * server and its lane can start it now (its concurrency bulkhead has room; for the CPU lane, a
   * thread is idle); otherwise through the cluster's lane queue, so another server (or this one,
   * later) takes it. Never throws: the outcome carries the error code.
   */
  invokeFromChannel(target: string, input: unknown, call: ChannelCall): ChannelOutcome | Promise<ChannelOutcome> {
    const { registry, pool, server } = this.options;
    const invocationId = `${server}-h${++this.sequence}`;
    const local = registry.get(target);
    const release = local && (local.lane === 'network' || pool.hasIdleThread) ? this.tryAcquire(local) : undefined;
    if (!local || !release) return this.channelViaQueue(target, local, input, invocationId, call);
    const policyTimeout = local.policy?.timeoutMs || 0;
    const deadline = policyTimeout ? Math.min(call.deadline, Date.now() + policyTimeout) : call.deadline;
    if (local.lane === 'cpu') return this.channelOnCpu(local, input, invocationId, deadline, call.http, call.span, release);
    const measuring = this.options.metrics !== undefined;
    const started = measuring ? performance.now() : 0;
    // The network lane: a handler that answers synchronously gets no promise and no extra turn.
    let result: unknown;
    try {
      result = this.runNetwork(local, input, invocationId, deadline, call.http, call.span);
    } catch (err) {
      release();
      if (measuring) this.measured(local, started, false);
      return { ok: false, ...failureOf(local.name, err), via: 'network' };
    }
    if (!isThenable(result)) {
      release();
      if (measuring) this.measured(local, started, true);
      return { ok: true, output: result ?? null, version: local.version, via: 'network' };
    }
    return Promise.resolve(result).then(
      (output): ChannelOutcome => {
        release();
        if (measuring) this.measured(local, started, true);
        return { ok: true, output: output ?? null, version: local.version, via: 'network' };
      },
      (err: unknown): ChannelOutcome => {
        release();
        if (measuring) this.measured(local, started, false);
        return { ok: false, ...failureOf(local.name, err), via: 'network' };
      },
    );
  }

  private async channelOnCpu(
    local: RegisteredService,
    input: unknown,
    invocationId: string,
    deadline: number,
    http: HttpRequestInfo,
    span: Span | undefined,
    release: () => void,
  ): Promise<ChannelOutcome> {
    const started = this.options.metrics ? performance.now() : 0;
    let ok = false;
    try {
      const result = await this.options.pool.run(local.name, input, invocationId, deadline, http, traceparentOf(span));
      ok = result.ok;
      return result.ok
        ? { ok: true, output: result.output, version: result.version, via: 'cpu' }
        : { ok: false, code: result.code, message: result.message, via: 'cpu' };
    } catch (err) {
      return { ok: false, ...failureOf(local.name, err), via: 'cpu' };
    } finally {
      release();
      if (this.options.metrics) this.measured(local, started, ok);
    }
  }

  /** Records one invocation of `service` run here (laneway_service_*): from `started` (performance.now()) to now. */
  private measured(service: RegisteredService, started: number, ok: boolean): void {
    const cell = this.options.metrics!.service(service.name, service.lane);
    const seconds = (performance.now() - started) / 1000;
    if (ok) cell.observe(seconds);
    else cell.observeError(seconds);
  }

  private async channelViaQueue(
    target: string,
    local: RegisteredService | undefined,
    input: unknown,
    invocationId: string,
    call: ChannelCall,
  ): Promise<ChannelOutcome> {
    const budget = call.deadline - Date.now();
    if (budget <= 0) {
      return { ok: false, code: 'DEADLINE_EXCEEDED', message: `service '${target}' had no time left to be queued`, via: 'queue' };
    }
    try {
      const result = await this.options.lanes.invoke({
        cluster: this.options.cluster,
        lane: local?.lane ?? 'network',
        service: target,
        input,
        timeoutMs: budget,
        invocationId,
        http: call.http,
        traceparent: traceparentOf(call.span),
      });
      return { ok: true, output: result.output, version: result.version, via: 'queue' };
    } catch (err) {
      return { ok: false, ...failureOf(target, err), via: 'queue' };
    }
  }

  /** A slot under the service's concurrency cap if one is free now (the function that frees it), else undefined. */
  private tryAcquire(service: RegisteredService): (() => void) | undefined {
    const cap = service.policy?.concurrency || 0;
    if (!cap) return noop;
    let b = this.bulkheads.get(service.name);
    if (!b) this.bulkheads.set(service.name, (b = { active: 0, waiting: [] }));
    if (b.active >= cap) return undefined;
    b.active++;
    const bulkhead = b;
    return () => {
      const next = bulkhead.waiting.shift();
      if (next) next();
      else bulkhead.active--;
    };
  }

  /** Waits for a slot under the service's concurrency cap; returns the function that frees it. */
  private async acquire(service: RegisteredService): Promise<() => void> {
    const cap = service.policy?.concurrency || 0;
    if (!cap) return noop;
    let bulkhead = this.bulkheads.get(service.name);
    if (!bulkhead) this.bulkheads.set(service.name, (bulkhead = { active: 0, waiting: [] }));
    const b = bulkhead;
    if (b.active >= cap) await new Promise<void>((resolve) => b.waiting.push(resolve));
    else b.active++;
    return () => {
      const next = b.waiting.shift();
      // The slot passes straight to the next waiter; otherwise it is freed.
      if (next) next();
      else b.active--;
    };
  }

  /**
   * `ctx.invoke`: a network-lane service loaded here is called directly (no Redis round trip, no
   * serialisation); anything else goes through its lane queue and may run on any server.
   */
  async invokeFromService(target: string, input: unknown, timeoutMs: number | undefined, parentDeadline?: number, span?: Span): Promise<unknown> {
    const local = this.options.registry.get(target);
    const budget = timeoutMs ?? (parentDeadline ? parentDeadline - Date.now() : DEFAULT_NESTED_TIMEOUT_MS);
    if (local && local.lane === 'network') {
      const policyTimeout = local.policy?.timeoutMs || 0;
      const deadline = Date.now() + (policyTimeout ? Math.min(budget, policyTimeout) : budget);
      const release = local.policy?.concurrency ? await this.acquire(local) : noop;
      const started = this.options.metrics ? performance.now() : 0;
      let ok = false;
      try {
        const output = await this.runNetwork(local, input, `${this.options.server}-l${++this.sequence}`, deadline, undefined, span);
        ok = true;
        return output;
      } finally {
        release();
        if (this.options.metrics) this.measured(local, started, ok);
      }
    }
    const result = await this.options.lanes.invoke({
      cluster: this.options.cluster,
      lane: local?.lane ?? 'network',
      service: target,
      input,
      timeoutMs: Math.max(1, budget),
      traceparent: traceparentOf(span),
    });
    return result.output;
  }

  /**
   * Checks an async call's input against the service's input schema before it is queued, as a sync
   * call would: here for a network-lane service loaded on this server, in an idle CPU thread for a
   * CPU-lane one. The rejection message (what a sync call's INVALID_ARGUMENT says), or undefined when
   * the input fits or cannot be checked now (the service is not loaded here, every CPU thread is
   * busy): the job is then queued and the worker refuses it, without retries.
   */
  checkInput(target: string, input: unknown): string | undefined | Promise<string | undefined> {
    const local = this.options.registry.get(target);
    if (local?.lane === 'cpu') return this.options.pool.checkInput(target, input)?.then((check) => (check.ok ? undefined : check.message));
    const schema = local?.definition?.input;
    if (!schema) return undefined;
    const refused = (err: unknown): string => inputRejection(target, err);
    let checked: unknown;
    try {
      checked = validateWithSchema(schema, input);
    } catch (err) {
      return refused(err);
    }
    return isThenable(checked) ? Promise.resolve(checked).then(() => undefined, refused) : undefined;
  }

  /** `ctx.invokeAsync`: a durable job on the target's lane queue, with the target's attempts policy. */
  async invokeAsyncFromService(target: string, input: unknown, invocationId?: string, span?: Span, idempotency?: { key: string; ttlSeconds: number }): Promise<string> {
    const known = this.options.registry.get(target);
    return this.options.lanes.invokeAsync({
      idempotency,
      cluster: this.options.cluster,
      lane: known?.lane ?? 'network',
      service: target,
      input,
      attempts: known?.policy?.attempts || undefined,
      invocationId,
      traceparent: traceparentOf(span),
    });
  }

  /**
   * Runs a network-lane handler here: the output itself when the schema and the handler answer
   * synchronously, else a promise of it (raced against the deadline). Throws (or rejects) with a
   * ServiceInvocationError for bad input and a passed deadline, with the handler's error otherwise.
   */
  private runNetwork(
    service: RegisteredService,
    rawInput: unknown,
    invocationId: string,
    deadline: number | undefined,
    http?: HttpRequestInfo,
    span?: Span,
  ): unknown {
    const definition = service.definition!;
    if (!definition.input) return this.handleNetwork(service, rawInput, invocationId, deadline, http, span);
    let checked: unknown;
    try {
      checked = validateWithSchema(definition.input, rawInput);
    } catch (err) {
      throw new ServiceInvocationError('INVALID_ARGUMENT', inputRejection(service.name, err), service.name);
    }
    // Most schemas answer synchronously: no promise (and no extra turn) for them.
    if (!isThenable(checked)) return this.handleNetwork(service, checked, invocationId, deadline, http, span);
    return Promise.resolve(checked).then(
      (input) => this.handleNetwork(service, input, invocationId, deadline, http, span),
      (err: unknown) => {
        throw new ServiceInvocationError('INVALID_ARGUMENT', inputRejection(service.name, err), service.name);
      },
    );
  }

  private handleNetwork(service: RegisteredService, input: unknown, invocationId: string, deadline: number | undefined, http?: HttpRequestInfo, span?: Span): unknown {
    const definition = service.definition!;
    const connections = definition.connections ?? [];
    const ctx = new InvocationContext(this.host, service.name, service.version, invocationId, deadline, http, connections, undefined, span);
    // ctx.invoke takes its parent span from ctx; a connection's call (ctx.sql, ...) can only find it as
    // the active context, so only a service that declares connections runs inside one (the first
    // context entered turns on Node's async hooks for the whole process: see AsyncLocalContextManager).
    const result = span && connections.length ? inSpan(span, () => definition.handle(input, ctx)) : definition.handle(input, ctx);
    // No deadline, or a handler that answered synchronously: no timer needed.
    if (!deadline || !isThenable(result)) return result;
    const budget = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The handler cannot be stopped from outside; its signal tells it to give up.
        ctx.abort();
        reject(new ServiceInvocationError('DEADLINE_EXCEEDED', `service '${service.name}' did not finish within ${budget} ms`, service.name));
      }, budget);
    });
    return Promise.race([result, expired]).finally(() => clearTimeout(timer));
  }
}

/** The code and message of a failed invocation, as `run` shapes them, and `retryable: false` when the error said so. */
function failureOf(service: string, err: unknown): { code: InvocationErrorCode; message: string; retryable?: false } {
  const failure: { code: InvocationErrorCode; message: string; retryable?: false } =
    err instanceof ServiceInvocationError
      ? { code: err.code, message: err.message }
      : { code: 'SERVICE_FAILED', message: `service '${service}' failed: ${errorMessage(err)}` };
  if (notRetryable(err)) failure.retryable = false;
  return failure;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err !== null && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

const noop = (): void => undefined;

/** With tracing on, the W3C traceparent of `span` (the active span's without it): what a queued job or a CPU thread continues. */
function traceparentOf(span: Span | undefined): string | undefined {
  const t = tracing();
  return t ? t.traceparent(span) : undefined;
}

/** Runs `work` with `span` as the active span (tracing is on). */
function inSpan<T>(span: Span, work: () => T): T {
  const { api } = tracing()!;
  return api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), work);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
