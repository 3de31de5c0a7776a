import Fastify, { type FastifyReply } from 'fastify';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { isHttpResponse, type HttpRequestInfo, type InvocationErrorCode } from '@laneway/sdk';
import { tracing } from '@laneway/lanes';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { routeTimeoutMs, type ChannelRoute } from '../channels/channel-route';
import type { RouteMatch, RouteTable } from '../channels/route-table';
import type { ChannelCall, ChannelOutcome } from '../lanes/invoker';
import { rejectedField } from '../lanes/input-rejection';
import { channelInput, NO_BODY } from './channel-input';
import type { HttpMetrics, RouteSeries } from '../metrics/server-metrics';
import { parseQuery } from './parse-query';
import { newRequestId } from './request-ids';
import { RawReply, RawRequest, type ChannelHttpReply, type ChannelHttpRequest } from './raw-exchange';
import { endRequestSpan, startRequestSpan } from '../tracing/spans';

/** What `/healthz` reports. */
export interface HealthState {
  /** True while the server takes jobs (not drained). */
  serving(): boolean;
  /** True while the control plane has the server drained: `/healthz` then says `"drained"` (still 503). */
  drained?(): boolean;
  details(): Record<string, unknown>;
}

/** Runs a channel's service: the {@link Invoker} in a server. */
export interface ChannelRunner {
  /** The outcome itself when the service answered synchronously, else a promise of it. */
  invokeFromChannel(service: string, input: unknown, call: ChannelCall): ChannelOutcome | Promise<ChannelOutcome>;
  /**
   * Checks an async channel's input against the service's input schema before it is queued: the
   * rejection message (as a sync call's INVALID_ARGUMENT says it), or undefined when it fits or
   * cannot be checked here. Without it, async input is queued unchecked.
   */
  checkInput?(service: string, input: unknown): string | undefined | Promise<string | undefined>;
}

/** The answer of a {@link SecurityCheck}: let the request through, or refuse it with 401 or 403. */
export type SecurityVerdict = { ok: true; caller?: string } | { ok: false; status: 401 | 403; message: string; headers?: Record<string, string> };

/**
 * Queues a durable invocation for an async channel and returns its job id; with an idempotency key,
 * repeats within its period return the first call's job id and queue nothing.
 */
export type AsyncEnqueuer = (route: ChannelRoute, input: unknown, options: { idempotencyKey: string | undefined; caller: string }) => Promise<{ jobId: string; repeated: boolean }>;

/**
 * Counts a request against its channel's rate limit (`route.rateLimitPerSecond`), for one caller:
 * the credential the security check named, or the client address on a public channel.
 */
export type RateLimiter = (route: ChannelRoute, caller: string) => Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }>;

/**
 * Decides whether a request may use a channel whose `security` is not `''` (public channels are not
 * checked). Called after the route matched, before the body is decoded or the service runs.
 */
export type SecurityCheck = (
  route: ChannelRoute,
  request: { method: string; path: string; headers: Readonly<Record<string, string>> },
) => SecurityVerdict | Promise<SecurityVerdict>;

export interface HttpServerOptions {
  host: string;
  port: number;
  health: HealthState;
  routes: RouteTable;
  invoker: ChannelRunner;
  logger: Logger;
  /** Channel requests at once (LANEWAY_HTTP_MAX_IN_FLIGHT); beyond it, 503. Default 1000. */
  maxInFlight?: number;
  /** Bytes of a request body (LANEWAY_HTTP_MAX_BODY_BYTES); beyond it, 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Time to receive a whole request, headers and body (LANEWAY_HTTP_REQUEST_TIMEOUT_MS); past it, 408. Default 30 s. */
  requestTimeoutMs?: number;
  /** Bytes of a request's headers (LANEWAY_HTTP_MAX_HEADER_BYTES); beyond them, 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** How long `close()` waits for requests in flight before it cuts their connections. Default 30 s. */
  closeTimeoutMs?: number;
  /** The check of channels with a `security`; without one, such channels answer 401. */
  security?: SecurityCheck;
  /** The limiter of channels with a rate limit; without one, limits are not enforced. */
  rateLimit?: RateLimiter;
  /** Runs async channels' invocations; without it, such channels answer 503. */
  enqueue?: AsyncEnqueuer;
  /** The OpenAPI document of the channels, served at GET /openapi.json. */
  openApi?: () => Record<string, unknown>;
  /**
   * Where every answered request is recorded (http_server_request_duration_seconds), and what
   * GET /metrics answers; without it (LANEWAY_METRICS=off), nothing is measured and /metrics is 404.
   */
  metrics?: { http: HttpMetrics; text(): Promise<string>; contentType: string };
}

export interface RunningHttpServer {
  /** The port listened on (the one picked by the OS when given 0). */
  readonly port: number;
  /** Channel requests being handled now. */
  readonly inFlight: number;
  /** Stops accepting connections, lets requests in flight finish (up to `closeTimeoutMs`), then resolves. */
  close(): Promise<void>;
}

/** The JSON error body of every refused or failed request. */
interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

const RETRY_AFTER_S = '1';
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
// Hop-by-hop or computed headers a service cannot set.
const RESERVED_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'x-request-id']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
/** The paths the listener serves itself: give them to the RouteTable as `reserved`, so no channel takes them. */
export const RESERVED_PATHS: readonly string[] = Object.freeze(['/healthz', '/metrics', '/openapi.json']);

// What the metrics keep on a request (node's IncomingMessage): when it arrived and the series of the
// route that took it. Set on every request in the same order, so they do not change its shape per request.
const STARTED = Symbol('laneway.started');
const SERIES = Symbol('laneway.series');
interface Measured {
  [STARTED]: number;
  [SERIES]: RouteSeries | undefined;
}

const STATUS_OF: Record<InvocationErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 503,
  DEADLINE_EXCEEDED: 504,
  SERVICE_FAILED: 500,
  UNAVAILABLE: 503,
};
const CODE_OF: Record<InvocationErrorCode, string> = {
  INVALID_ARGUMENT: 'INVALID_INPUT',
  NOT_FOUND: 'SERVICE_NOT_DEPLOYED',
  DEADLINE_EXCEEDED: 'TIMEOUT',
  SERVICE_FAILED: 'SERVICE_FAILED',
  UNAVAILABLE: 'UNAVAILABLE',
};

/**
 * The server's public HTTP listener: `GET /healthz`, `GET /openapi.json` and the REST channels of
 * `routes`, matched per request so that a new route table needs no re-registration. Every answer
 * carries `x-request-id`; every error is `{"error": {"code", "message", "field"?}}`.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { routes, invoker, health, logger } = options;
  const log = logger.child({ component: 'http' });
  const maxInFlight = options.maxInFlight ?? 1000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 30_000;
  const httpMetrics = options.metrics?.http;
  // The listener's own paths: their series are made once, here.
  const ownSeries = httpMetrics && { healthz: httpMetrics.route('/healthz'), metrics: httpMetrics.route('/metrics'), openapi: httpMetrics.route('/openapi.json') };
  /** Records an answered request: `status` from `res`'s request, which the listener stamped when it arrived. */
  const recordSent = (res: http.ServerResponse, status: number): void => {
    const req = res.req as http.IncomingMessage & Measured;
    (req[SERIES] ?? httpMetrics!.unmatched).observe(req.method, status, (performance.now() - req[STARTED]) / 1000);
  };
  /** The same for requests fastify answers (a 'finish' listener: `this` is the response). */
  const recordFinished = function (this: http.ServerResponse): void {
    recordSent(this, this.statusCode);
  };
  /**
   * What RawReply tells when it has answered (the channel fast path needs no 'finish' listener): the
   * metrics, from the reply's own stamps (node's request objects keep their shape on the fast path),
   * and with tracing on the request's span, which ends then.
   */
  const recordRaw = (res: http.ServerResponse, status: number, reply: RawReply): void => {
    (reply.series ?? httpMetrics!.unmatched).observe(res.req.method ?? 'GET', status, (performance.now() - reply.started) / 1000);
  };
  const rawSent = tracing()
    ? (res: http.ServerResponse, status: number, reply: RawReply): void => {
        if (httpMetrics) recordRaw(res, status, reply);
        if (reply.span) endRequestSpan(reply.span, res, status);
      }
    : httpMetrics && recordRaw;
  /** Which route took the request (for http_route). */
  const tag = (raw: unknown, series: RouteSeries | undefined): void => {
    if (httpMetrics) (raw as Measured)[SERIES] = series;
  };
  let inFlight = 0;
  let closing = false;
  /** An error answer; while closing, it also ends its connection (so close() does not wait on idle keep-alives). */
  const fail = (reply: ChannelHttpReply | FastifyReply, status: number, error: ErrorBody, retry = false): void => {
    const r = channelReply(reply);
    if (closing) void r.header('connection', 'close');
    sendError(r, status, error, retry);
  };

  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    requestTimeout: requestTimeoutMs,
    // close() answers requests that arrive while closing itself, in the channels' error format.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: (req) => requestIdOf(req.headers['x-request-id']),
    serverFactory: (handler) =>
      http.createServer(
        {
          maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
          requestTimeout: requestTimeoutMs,
          headersTimeout: requestTimeoutMs,
          // How often node looks for requests past their timeout (its default, 30 s, would make a 1 s timeout take 31 s).
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 2))),
        },
        (req, res) => {
          const started = httpMetrics ? performance.now() : 0;
          if (channelFastPath(req, res, started)) return;
          if (httpMetrics) {
            const measured = req as http.IncomingMessage & Measured;
            measured[STARTED] = started;
            measured[SERIES] = undefined;
            res.on('finish', recordFinished);
          }
          handler(req, res);
        },
      ),
    frameworkErrors: (err, request, reply) => {
      const bad = err.code === 'FST_ERR_BAD_URL';
      fail(reply, 400, {
        code: bad ? 'BAD_ENCODING' : 'BAD_REQUEST',
        message: bad ? `path ${quote(request.raw.url ?? '')} is not valid percent-encoding` : err.message,
        field: bad ? 'path' : undefined,
      });
    },
    clientErrorHandler: (err: Error & { code?: string }, socket: Duplex) => answerClientError(err, socket, log),
  });

  // Every body is read as bytes; the channel decides what it accepts (JSON or nothing).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // No onRequest/onSend hooks: fastify runs hooks for every request, and they showed in a profile
  // of the channel path. Each handler below sets what the hooks would (x-request-id, the answer
  // while closing, the in-flight count).

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, request, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      fail(reply, 413, { code: 'BODY_TOO_LARGE', message: `the request body is over LANEWAY_HTTP_MAX_BODY_BYTES=${maxBodyBytes} bytes`, field: 'body' });
      return;
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      fail(reply, status, { code: 'BAD_REQUEST', message: err.message });
      return;
    }
    log.error({ err: err.message, code: err.code, url: request.raw.url, requestId: request.id }, 'HTTP request failed inside the server');
    fail(reply, 500, { code: 'INTERNAL', message: `the server failed to handle the request (request id ${request.id})` });
  });
  app.setNotFoundHandler((request, reply) => {
    if (refusedWhileClosing(reply)) return;
    fail(reply, 404, { code: 'NOT_FOUND', message: `no channel has path ${quote(pathOf(request.raw.url))}`, field: 'path' });
  });

  /** While closing, every request gets 503 and its connection ends: true when it was answered so. */
  const refusedWhileClosing = (reply: ChannelHttpReply | FastifyReply): boolean => {
    if (!closing) return false;
    fail(reply, 503, { code: 'UNAVAILABLE', message: 'the server is shutting down' }, true);
    return true;
  };

  app.get('/healthz', (request, reply) => {
    tag(request.raw, ownSeries?.healthz);
    if (refusedWhileClosing(reply)) return;
    void reply.header('x-request-id', request.id);
    const ok = health.serving();
    void reply
      .code(ok ? 200 : 503)
      .type('application/json')
      .send(JSON.stringify({ status: ok ? 'serving' : health.drained?.() ? 'drained' : 'not-serving', ...health.details() }));
  });
  app.get('/metrics', async (request, reply) => {
    tag(request.raw, ownSeries?.metrics);
    if (refusedWhileClosing(reply)) return;
    void reply.header('x-request-id', request.id);
    if (!options.metrics) return fail(reply, 404, { code: 'NOT_FOUND', message: 'metrics are off on this server (LANEWAY_METRICS=off)' });
    const text = await options.metrics.text();
    void reply.type(options.metrics.contentType).send(text);
  });
  app.get('/openapi.json', (request, reply) => {
    tag(request.raw, ownSeries?.openapi);
    if (refusedWhileClosing(reply)) return;
    void reply.header('x-request-id', request.id);
    if (!options.openApi) return fail(reply, 404, { code: 'NOT_FOUND', message: 'this server publishes no OpenAPI document' });
    void reply.type('application/json').send(JSON.stringify(options.openApi()));
  });
  app.all('*', (request, reply) => {
    if (refusedWhileClosing(reply)) return;
    return counted(request, channelReply(reply), undefined);
  });

  /** A channel request within the in-flight bound (else 503), counted until it is answered. */
  function counted(request: ChannelHttpRequest, reply: ChannelHttpReply, match: RouteMatch | undefined): void | Promise<void> {
    if (inFlight >= maxInFlight) {
      fail(reply, 503, { code: 'OVERLOADED', message: `the server holds LANEWAY_HTTP_MAX_IN_FLIGHT=${maxInFlight} channel requests already` }, true);
      return;
    }
    inFlight++;
    let pending: void | Promise<void>;
    try {
      pending = handleChannel(request, reply, match);
    } catch (err) {
      inFlight--;
      throw err;
    }
    if (!pending) {
      inFlight--;
      return;
    }
    return pending.finally(() => inFlight--);
  }

  /**
   * A request without a body (GET or DELETE) to a path a channel answers skips fastify's request and
   * reply objects: the same steps, answered through a RawReply. Measured on the HTTP benchmark, fastify's
   * per-request work was about a third of the channel path's own. A method no channel can have
   * (QUERY, PROPFIND, OPTIONS...) is answered here too (see unservedMethod). Everything else (bodies,
   * HEAD, the listener's own paths, 404/405, bad encodings, requests while closing) goes through fastify.
   */
  function channelFastPath(req: http.IncomingMessage, res: http.ServerResponse, started: number): boolean {
    const method = req.method;
    if (method !== 'GET' && method !== 'DELETE') {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'HEAD') return false;
      unservedMethod(req, res, started);
      return true;
    }
    if (closing) return false;
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const match = routes.match(method, q < 0 ? url : url.slice(0, q));
    if (match.kind !== 'found') return false;
    const request = new RawRequest(req, requestIdOf(req.headers['x-request-id']));
    const reply = new RawReply(res, request, rawSent, started);
    const failed = (err: unknown): void => {
      log.error({ err: (err as Error)?.message, url, requestId: request.id }, 'HTTP request failed inside the server');
      fail(reply, 500, { code: 'INTERNAL', message: `the server failed to handle the request (request id ${request.id})` });
    };
    try {
      const pending = counted(request, reply, match);
      if (pending) pending.then(undefined, failed);
    } catch (err) {
      failed(err);
    }
    return true;
  }

  /**
   * A method no channel can have. fastify would refuse some before routing (QUERY without a
   * content type: 400) and route others nowhere (PROPFIND: 404), though the path may exist: answered
   * 405 with `Allow` where it does, as a channel method the path lacks is.
   */
  function unservedMethod(req: http.IncomingMessage, res: http.ServerResponse, started: number): void {
    const request = new RawRequest(req, requestIdOf(req.headers['x-request-id']));
    const reply = new RawReply(res, request, rawSent, started);
    if (refusedWhileClosing(reply)) return;
    const path = pathOf(req.url);
    const match = routes.match(request.method, path);
    // Never 'found': every route has one of the channel methods.
    unrouted(reply, request.method, path, match.kind === 'found' ? { kind: 'no-method', allow: [match.route.method] } : match);
  }

  /**
   * The answer to a request no channel takes: 400 for a path that is not valid percent-encoding, 405
   * with `Allow` for a path served with other methods (a channel's, or the listener's own GET paths),
   * else 404.
   */
  function unrouted(reply: ChannelHttpReply, method: string, path: string, match: Exclude<RouteMatch, { kind: 'found' }>): void {
    if (match.kind === 'bad-encoding') {
      return fail(reply, 400, { code: 'BAD_ENCODING', message: `path segment ${quote(match.segment)} is not valid percent-encoding`, field: 'path' });
    }
    const allow = match.kind === 'no-method' ? match.allow.join(', ') : RESERVED_PATHS.includes(path) ? 'GET, HEAD' : undefined;
    if (allow === undefined) return fail(reply, 404, { code: 'NOT_FOUND', message: `no channel has path ${quote(path)}`, field: 'path' });
    void reply.header('allow', allow);
    fail(reply, 405, {
      code: 'METHOD_NOT_ALLOWED',
      message: `path ${quote(path)} does not accept method ${method}; it accepts ${allow}`,
      field: 'method',
    });
  }

  /** A matched channel request on its way: what the steps after the match need. */
  interface ChannelRequest {
    request: ChannelHttpRequest;
    reply: ChannelHttpReply;
    route: ChannelRoute;
    params: Record<string, string>;
    path: string;
    /** The query string, without its `?`. */
    query: string;
    headers: Readonly<Record<string, string>>;
    /** Who the rate limit counts: the credential the security check named; empty for the client address. */
    caller: string;
    /** With tracing on: the request's span, which its invocation continues. */
    span: Span | undefined;
  }

  // The steps of a channel request: each returns nothing when it answered synchronously, or a
  // promise when it waits (a JWT check, a rate limit, a service that answers later). A request to
  // a channel with an API key and a synchronous service makes no promise at all.
  function handleChannel(request: ChannelHttpRequest, reply: ChannelHttpReply, matched: RouteMatch | undefined): void | Promise<void> {
    void reply.header('x-request-id', request.id);
    const url = request.raw.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const match = matched ?? routes.match(request.method, path);
    if (match.kind !== 'found') return unrouted(reply, request.method, path, match);
    const { route, params } = match;
    if (httpMetrics) {
      const series = route.metrics ?? httpMetrics.route(route.path);
      if (reply instanceof RawReply) reply.series = series;
      else (request.raw as unknown as Measured)[SERIES] = series;
    }
    const call: ChannelRequest = {
      request,
      reply,
      route,
      params,
      path,
      query: q < 0 ? '' : url.slice(q + 1),
      headers: flatHeaders(request.raw.headers),
      caller: '',
      span: undefined,
    };
    const t = tracing();
    // A RawReply (the fast path) ends the span when it answers; fastify's answers end it on 'close'.
    if (t) call.span = startRequestSpan(t, request, reply.raw, route, path, reply instanceof RawReply ? reply : undefined);
    if (!route.security) return limit(call);
    const verdict: SecurityVerdict | Promise<SecurityVerdict> = options.security
      ? options.security(route, { method: request.method, path, headers: call.headers })
      : { ok: false, status: 401, message: `channel '${route.name}' requires security '${route.security}', which this server cannot check` };
    return isThenable(verdict) ? verdict.then((v) => secured(call, v)) : secured(call, verdict);
  }

  function secured(call: ChannelRequest, verdict: SecurityVerdict): void | Promise<void> {
    if (!verdict.ok) {
      if (verdict.headers) void call.reply.headers(verdict.headers);
      return fail(call.reply, verdict.status, { code: verdict.status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED', message: verdict.message });
    }
    if (verdict.caller) call.caller = verdict.caller;
    return limit(call);
  }

  function limit(call: ChannelRequest): void | Promise<void> {
    const { route } = call;
    if (!route.rateLimitPerSecond || !options.rateLimit) return run(call);
    return options.rateLimit(route, call.caller || `ip:${call.request.ip}`).then((limited) => {
      if (limited.ok) return run(call);
      void call.reply.header('retry-after', String(limited.retryAfterSeconds));
      return fail(call.reply, 429, {
        code: 'RATE_LIMITED',
        message: `channel '${route.name}' allows ${route.rateLimitPerSecond} requests per second per caller; retry after ${limited.retryAfterSeconds} s`,
      });
    });
  }

  function run(call: ChannelRequest): void | Promise<void> {
    const { request, reply, route, params, headers } = call;
    const parsedQuery = parseQuery(call.query);
    if (!parsedQuery.ok) {
      return fail(reply, 400, { code: 'BAD_ENCODING', message: `query part ${quote(parsedQuery.part)} is not valid percent-encoding`, field: 'query' });
    }
    const raw = request.body instanceof Buffer ? request.body : undefined;
    const rawBody = raw?.length ? raw.toString('utf8') : '';
    let body: unknown = NO_BODY;
    if (rawBody) {
      const type = request.headers['content-type'] ?? '';
      if (!JSON_TYPE.test(type)) {
        return fail(reply, 415, {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `content-type ${quote(type)} is not accepted; send application/json or no body`,
          field: 'content-type',
        });
      }
      try {
        body = JSON.parse(rawBody);
      } catch (err) {
        return fail(reply, 400, { code: 'INVALID_JSON', message: `the request body is not valid JSON: ${(err as Error).message}`, field: 'body' });
      }
    }
    const input = channelInput(body, parsedQuery.query, params);
    if (route.async) return enqueue(call, input);
    const httpInfo: HttpRequestInfo = {
      channel: route.name,
      method: request.method,
      path: call.path,
      headers,
      query: parsedQuery.query,
      params,
      rawBody,
      requestId: request.id,
    };
    // The request's span context is passed down, not made active: entering a context would turn on
    // Node's async hooks for every request of the process (see AsyncLocalContextManager).
    const channelCall = { deadline: Date.now() + routeTimeoutMs(route), http: httpInfo, span: call.span };
    const outcome = invoker.invokeFromChannel(route.service, input, channelCall);
    return isThenable(outcome) ? outcome.then((o) => answer(call, o)) : answer(call, outcome);
  }

  async function enqueue(call: ChannelRequest, input: Record<string, unknown>): Promise<void> {
    const { reply, route, headers } = call;
    if (!options.enqueue) return fail(reply, 503, { code: 'UNAVAILABLE', message: `channel '${route.name}' is async and this server cannot queue` }, true);
    const key = headers['idempotency-key'];
    if (key !== undefined && (key.length === 0 || key.length > 256)) {
      return fail(reply, 400, { code: 'BAD_IDEMPOTENCY_KEY', message: `Idempotency-Key has ${key.length} characters; use 1-256`, field: 'idempotency-key' });
    }
    // Input the service would refuse is answered 400 as on a sync channel, not queued to fail in a worker.
    const checked = invoker.checkInput?.(route.service, input);
    const rejected = isThenable(checked) ? await checked : checked;
    if (rejected !== undefined) return fail(reply, 400, { code: 'INVALID_INPUT', message: rejected, field: rejectedField(rejected) });
    try {
      const enqueueOptions = { idempotencyKey: key, caller: call.caller || `ip:${call.request.ip}` };
      const enqueue = options.enqueue;
      // The enqueuer finds the span as the active context's (across its Redis round trips).
      const t = call.span && tracing();
      const queued = await (t ? t.api.context.with(t.api.trace.setSpan(t.api.ROOT_CONTEXT, call.span!), () => enqueue(route, input, enqueueOptions)) : enqueue(route, input, enqueueOptions));
      if (queued.repeated) void reply.header('idempotent-replayed', 'true');
      if (closing) void reply.header('connection', 'close');
      return void reply.code(202).type('application/json').send(JSON.stringify({ jobId: queued.jobId }));
    } catch (err) {
      // The enqueuer's own refusals (Redis unreachable or slow) say what happened to the call.
      const refusal = (err as { code?: string }).code === 'QUEUE_UNAVAILABLE' ? (err as Error).message : undefined;
      if (refusal) log.debug({ channel: route.name, reason: refusal }, 'async channel call refused');
      else log.warn({ err, channel: route.name }, 'could not queue an async channel call');
      return fail(reply, 503, { code: 'UNAVAILABLE', message: refusal ?? `channel '${route.name}': the invocation could not be queued; retry` }, true);
    }
  }

  function answer(call: ChannelRequest, outcome: ChannelOutcome): void {
    const { reply, route, request } = call;
    if (!outcome.ok) {
      const status = STATUS_OF[outcome.code] ?? 500;
      if (status >= 500) {
        log.warn({ channel: route.name, service: route.service, code: outcome.code, via: outcome.via, requestId: request.id }, 'channel request failed');
      }
      const field = outcome.code === 'INVALID_ARGUMENT' ? rejectedField(outcome.message) : undefined;
      return fail(reply, status, { code: CODE_OF[outcome.code] ?? 'SERVICE_FAILED', message: outcome.message, field }, status === 503);
    }
    // Answers sent while closing end their connection, so that close() does not wait on idle keep-alives.
    if (closing) void reply.header('connection', 'close');
    sendOutput(reply, route, outcome.output);
  }

  /** Sends a service's output: an `httpResponse(...)` as it asks, anything else as JSON with 200. */
  function sendOutput(reply: ChannelHttpReply, route: ChannelRoute, output: unknown): void {
    if (!isHttpResponse(output)) {
      const json = toJson(output);
      if (json === undefined) return fail(reply, 500, notJson(route));
      void reply.code(200).type('application/json').send(json);
      return;
    }
    for (const [name, value] of Object.entries(output.headers)) if (!RESERVED_RESPONSE_HEADERS.has(name)) void reply.header(name, value);
    void reply.code(output.status);
    const typed = reply.hasHeader('content-type');
    switch (output.encoding) {
      case 'text':
        if (!typed) void reply.type('text/plain; charset=utf-8');
        void reply.send(String(output.body));
        return;
      case 'base64':
        if (!typed) void reply.type('application/octet-stream');
        void reply.send(Buffer.from(String(output.body), 'base64'));
        return;
      case 'json': {
        const json = toJson(output.body);
        if (json === undefined) return fail(reply, 500, notJson(route));
        if (!typed) void reply.type('application/json');
        void reply.send(json);
        return;
      }
      default:
        void reply.send();
    }
  }

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port, maxInFlight, maxBodyBytes }, 'HTTP listener started');

  let closed: Promise<void> | undefined;
  return {
    port,
    get inFlight() {
      return inFlight;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Requests still running at the timeout have their connections cut.
        const timer = setTimeout(() => app.server.closeAllConnections(), closeTimeoutMs);
        await app.close();
        clearTimeout(timer);
        log.info({}, 'HTTP listener stopped');
      })();
      return closed;
    },
  };
}

/** The client's x-request-id when it is short and plain, else a new one. */
function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : newRequestId();
}

/** Fastify's reply as the channel steps use it (its `send` is typed for every payload; they send strings and buffers). */
function channelReply(reply: ChannelHttpReply | FastifyReply): ChannelHttpReply {
  return reply as unknown as ChannelHttpReply;
}

function sendError(reply: ChannelHttpReply, status: number, error: ErrorBody, retry = false): void {
  // Also here: framework errors (a URL the router cannot decode) are answered before any handler runs.
  void reply.header('x-request-id', reply.request.id);
  if (retry) void reply.header('retry-after', RETRY_AFTER_S);
  const body: ErrorBody = error.field === undefined ? { code: error.code, message: error.message } : error;
  void reply.code(status).type('application/json').send(JSON.stringify({ error: body }));
}

/**
 * Answers what node refuses before a request exists (headers too large, a request not received in
 * time, bytes that are not HTTP) in the channels' error format, then closes the connection.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex, log: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const error: ErrorBody =
    status === 431
      ? { code: 'HEADERS_TOO_LARGE', message: 'the request headers are over LANEWAY_HTTP_MAX_HEADER_BYTES', field: 'headers' }
      : status === 408
        ? { code: 'REQUEST_TIMEOUT', message: 'the request was not received within LANEWAY_HTTP_REQUEST_TIMEOUT_MS' }
        : { code: 'BAD_REQUEST', message: `the request is not valid HTTP (${err.code ?? 'parse error'})` };
  log.debug({ code: err.code, status }, 'refused a malformed HTTP request');
  // An answer already under way on this connection cannot be replaced by another.
  const pending = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (socket.writable && !pending?.headersSent) {
    const body = JSON.stringify({ error });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${newRequestId()}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  // Node joins repeated request headers itself except a few (set-cookie): most requests need no copy.
  let plain = true;
  for (const name in headers) {
    if (typeof headers[name] !== 'string') {
      plain = false;
      break;
    }
  }
  if (plain) return headers as Record<string, string>;
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value ?? null);
  } catch {
    return undefined;
  }
}

function notJson(route: ChannelRoute): ErrorBody {
  return { code: 'SERVICE_FAILED', message: `service '${route.service}' returned an output that is not JSON-serialisable` };
}

function pathOf(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?');
  return q < 0 ? (url ?? '/') : url!.slice(0, q);
}

/** A request's text in a message: JSON-quoted and cut, so that hostile input cannot forge lines. */
function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
