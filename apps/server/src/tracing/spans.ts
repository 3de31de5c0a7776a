// The server's spans, made only while tracing is on (tracing() from @laneway/lanes is defined): the
// callers check that first, so none of this runs, and nothing of OpenTelemetry is loaded, when it is
// off. Attribute names are OpenTelemetry's semantic conventions (HTTP server, database, messaging).
import type http from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { CallDetail, CallEnd, ConnectionInfo } from '@laneway/connectors';
import { tracing, type Tracing } from '@laneway/lanes/tracing';

/**
 * The SERVER span of a channel request, child of the request's `traceparent` when it has one. It ends
 * when the answer is sent: given the fast path's `reply`, when that answers (the reply holds the span,
 * and calls {@link endRequestSpan} once it has written the answer: no listener per request); else when
 * the response closes (a 'close' listener, for answers fastify writes).
 */
export function startRequestSpan(
  t: Tracing,
  req: { method: string; headers: http.IncomingHttpHeaders },
  res: http.ServerResponse,
  route: { path: string; service: string },
  path: string,
  reply: { span: Span | undefined } | undefined,
): Span {
  const { api } = t;
  const traceparent = req.headers['traceparent'];
  const tracestate = req.headers['tracestate'];
  const parent = typeof traceparent === 'string' ? t.extract(traceparent, typeof tracestate === 'string' ? tracestate : undefined) : api.ROOT_CONTEXT;
  const span = t.tracer.startSpan(
    `${req.method} ${route.path}`,
    {
      kind: api.SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method,
        'http.route': route.path,
        'url.path': path,
        'url.scheme': 'http',
        'laneway.service': route.service,
      },
    },
    parent,
  );
  if (reply) reply.span = span;
  else res.once('close', () => finish(span, res.statusCode, !res.writableFinished));
  return span;
}

/** Ends a request span the fast path's reply held, answered with `status` on `res`. */
export function endRequestSpan(span: Span, res: http.ServerResponse, status: number): void {
  // Written to a connection that closed first: the client never got it.
  finish(span, status, res.socket === null || res.socket.destroyed);
}

function finish(span: Span, status: number, closed: boolean): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: 2 });
  if (closed) span.setAttribute('error.type', 'connection_closed');
  span.end();
}

/**
 * The CONSUMER span of a lane job taken by this server, child of the span that queued it (the job's
 * `tp`); a job without one starts a trace of its own.
 */
export function startJobSpan(t: Tracing, job: { s: string; id: string; tp?: string }, lane: string, queue: string, server: string, attempt: number): Span {
  return t.tracer.startSpan(
    `process ${job.s}`,
    {
      kind: t.api.SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': queue,
        'messaging.message.id': job.id,
        'laneway.service': job.s,
        'laneway.lane': lane,
        'laneway.server': server,
        'laneway.attempt': attempt,
      },
    },
    t.extract(job.tp),
  );
}

/** Ends a span: an error (an Error, or a failed reply's message) marks it failed. */
export function endSpan(t: Tracing, span: Span, error?: unknown): void {
  if (error !== undefined) recordError(t, span, error);
  span.end();
}

function recordError(t: Tracing, span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : String((error as { message?: unknown })?.message ?? error);
  span.setStatus({ code: t.api.SpanStatusCode.ERROR, message });
  span.setAttribute('error.type', (error as { code?: unknown })?.code !== undefined ? String((error as { code: unknown }).code) : error instanceof Error ? error.name : 'error');
}

const DB_SYSTEM: Record<string, string> = { postgres: 'postgresql', mysql: 'mysql' };

/**
 * The connectors' `traceCall`: a CLIENT (PRODUCER for an AMQP publish) span of each `ctx.sql`,
 * `ctx.rest`, `ctx.redis` or `ctx.amqp` call, child of the span active where the service made it.
 * Reads tracing() per call, so a thread whose tracing starts after its connectors works.
 */
export function traceConnectionCall(info: ConnectionInfo, call: CallDetail): CallEnd {
  const t = tracing();
  if (!t) return noop;
  const { api } = t;
  const attributes: Record<string, string | number> = { 'laneway.connection': info.name };
  const [address, port] = hostAndPort(info.target);
  if (address) attributes['server.address'] = address;
  if (port) attributes['server.port'] = port;
  let name: string;
  let kind = api.SpanKind.CLIENT;
  switch (info.kind) {
    case 'postgres':
    case 'mysql': {
      const database = info.target.slice(info.target.indexOf('/') + 1);
      attributes['db.system.name'] = DB_SYSTEM[info.kind]!;
      attributes['db.operation.name'] = call.operation;
      if (database) attributes['db.namespace'] = database;
      if (call.statement) attributes['db.query.text'] = call.statement;
      name = database ? `${call.operation} ${database}` : call.operation;
      break;
    }
    case 'redis':
      attributes['db.system.name'] = 'redis';
      attributes['db.operation.name'] = call.operation;
      name = call.operation;
      break;
    case 'rest':
      attributes['http.request.method'] = call.operation;
      if (call.statement) attributes['url.path'] = call.statement;
      name = call.operation;
      break;
    case 'amqp':
      kind = api.SpanKind.PRODUCER;
      attributes['messaging.system'] = 'rabbitmq';
      attributes['messaging.operation.type'] = 'send';
      attributes['messaging.destination.name'] = call.exchange ?? '';
      if (call.routingKey) attributes['messaging.rabbitmq.destination.routing_key'] = call.routingKey;
      name = `publish ${call.exchange || '(default)'}`;
      break;
    default:
      name = call.operation;
  }
  const span = t.tracer.startSpan(name, { kind, attributes });
  return (error, status) => {
    if (status !== undefined) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 400) span.setStatus({ code: api.SpanStatusCode.ERROR });
    }
    endSpan(t, span, error);
  };
}

const noop: CallEnd = () => undefined;

/** `host:port` (a connection's target, before any `/database` or path) as its parts. */
function hostAndPort(target: string): [string, number | undefined] {
  let rest = target.replace(/^[a-z]+:\/\//i, '');
  const slash = rest.indexOf('/');
  if (slash >= 0) rest = rest.slice(0, slash);
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && !rest.endsWith(']')) {
    const port = Number(rest.slice(colon + 1));
    return [rest.slice(0, colon), Number.isInteger(port) ? port : undefined];
  }
  return [rest, undefined];
}
