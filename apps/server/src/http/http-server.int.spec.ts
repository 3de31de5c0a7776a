/**
 * The HTTP front door over real HTTP on 127.0.0.1: real services loaded in ServiceRegistries, a real
 * CPU thread pool, and a second "server" (its own registry, pool and lane workers) consuming the
 * cluster's lane queues in the local Redis, for the calls that this server cannot start itself.
 */
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { LaneClient, laneQueueName, ScheduleQueues, type AsyncJobInfo, type ScheduleRunRecord } from '@laneway/lanes';
import { Connectors } from '@laneway/connectors';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelRoute } from '../channels/channel-route';
import { AsyncEnqueuer } from '../channels/async-enqueuer';
import { RouteTable } from '../channels/route-table';
import { CpuPool } from '../cpu/cpu-pool';
import { Invoker } from '../lanes/invoker';
import { LaneWorkers } from '../lanes/lane-workers';
import { ServiceRegistry, type ServiceCode } from '../registry/service-registry';
import { buildThreadEntry } from '../testing/build-thread-entry';
import { RESERVED_PATHS, startHttpServer, type RunningHttpServer } from './http-server';
import { openApiDocument } from './openapi-document';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });

const NETWORK_CODE = `
const { defineService, httpResponse } = require('@laneway/sdk');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.echo = defineService({ name: 'echo', handle: (input, ctx) => ({ input, http: ctx.http, server: ctx.server }) });
exports.typed = defineService({
  name: 'typed',
  input: { parse(v) {
    if (typeof v.age === 'string' && /^[0-9]+$/.test(v.age)) return { age: Number(v.age) };
    const e = new Error('bad input'); e.issues = [{ path: ['age'], message: 'expected digits' }]; throw e;
  } },
  handle: (input) => input,
});
exports.boom = defineService({ name: 'boom', handle: () => { throw new Error('kaput'); } });
exports.refuses = defineService({ name: 'refuses', handle: (input) => {
  throw new (require('@laneway/sdk').ServiceInvocationError)('SERVICE_FAILED', 'customer ' + input.id + ' is closed for good', 'refuses', { retryable: false });
} });
exports.slow = defineService({ name: 'slow', handle: async (input, ctx) => { await sleep(Number(input.ms)); return { slept: Number(input.ms), server: ctx.server }; } });
exports.bulk = defineService({ name: 'bulk', concurrency: 1, handle: async (input, ctx) => { await sleep(Number(input.ms)); return { server: ctx.server }; } });
exports.custom = defineService({ name: 'custom', handle: () => httpResponse({ status: 201, headers: { location: '/x/1', 'content-length': '999' }, body: 'made' }) });
exports.bytes = defineService({ name: 'bytes', handle: () => httpResponse({ body: new Uint8Array([0, 1, 254, 255]) }) });
`;
const CPU_CODE = `
const { defineService, ServiceInvocationError } = require('@laneway/sdk');
exports.typed = defineService({ name: 'cpu.typed', lane: 'cpu',
  input: { parse(v) {
    if (typeof v.n === 'string' && /^[0-9]+$/.test(v.n)) return { n: Number(v.n) };
    const e = new Error('bad input'); e.issues = [{ path: ['n'], message: 'expected digits' }]; throw e;
  } },
  handle: (input) => {
    if (input.n === 0) throw new ServiceInvocationError('SERVICE_FAILED', 'zero is never accepted', 'cpu.typed', { retryable: false });
    return { n: input.n };
  },
});
exports.hash = defineService({ name: 'cpu.hash', lane: 'cpu', handle: (input, ctx) => {
  const until = Date.now() + Number(input.ms || 0);
  while (Date.now() < until) {}
  return { n: input.n, server: ctx.server, params: ctx.http && ctx.http.params };
} });
`;
const REMOTE_CODE = `
exports.remote = require('@laneway/sdk').defineService({ name: 'remote.only', handle: (input, ctx) => ({ input, http: ctx.http, server: ctx.server }) });
`;
const NETWORK = ['echo', 'typed', 'boom', 'refuses', 'slow', 'bulk', 'custom', 'bytes'];

const spec = (name: string, lane: 'network' | 'cpu', code: string, version: string, concurrency = 0): ServiceCode => ({
  name,
  version,
  lane,
  path: `${version}.js`,
  code,
  policy: { timeoutMs: 0, attempts: 0, concurrency },
});
const specs = (withRemote: boolean): ServiceCode[] => [
  ...NETWORK.map((n) => spec(n, 'network', NETWORK_CODE, 'net1', n === 'bulk' ? 1 : 0)),
  spec('cpu.hash', 'cpu', CPU_CODE, 'cpu1'),
  spec('cpu.typed', 'cpu', CPU_CODE, 'cpu1'),
  ...(withRemote ? [spec('remote.only', 'network', REMOTE_CODE, 'rem1')] : []),
];

const route = (name: string, method: ChannelRoute['method'], p: string, service: string, extra: Partial<ChannelRoute> = {}): ChannelRoute => ({
  name,
  method,
  path: p,
  service,
  security: '',
  timeoutMs: 0,
  ...extra,
});
const ROUTES: ChannelRoute[] = [
  route('echo-get', 'GET', '/echo/:id', 'echo'),
  route('echo-post', 'POST', '/echo/:id', 'echo'),
  route('echo-put', 'PUT', '/echo/:id', 'echo'),
  route('typed', 'POST', '/typed', 'typed'),
  route('boom', 'GET', '/boom', 'boom'),
  route('slow', 'GET', '/slow', 'slow', { timeoutMs: 400 }),
  route('bulk', 'GET', '/bulk', 'bulk'),
  route('custom', 'GET', '/custom', 'custom'),
  route('bytes', 'GET', '/bytes', 'bytes'),
  route('cpu', 'GET', '/cpu/:n', 'cpu.hash'),
  route('remote', 'GET', '/remote/:x', 'remote.only'),
  route('ghost', 'GET', '/ghost', 'ghost.service', { timeoutMs: 2000 }),
  route('private', 'GET', '/private', 'echo', { security: 'basic-auth' }),
  route('typed-async', 'POST', '/async/typed', 'typed', { async: true }),
  route('cpu-typed-async', 'POST', '/async/cpu/:n', 'cpu.typed', { async: true }),
];

/** A JSON answer: an error body, or a service's output. */
type Json = { error: { code: string; message: string; field?: string } } & Record<string, unknown>;

interface Replica {
  registry: ServiceRegistry;
  pool: CpuPool;
  lanes: LaneClient;
  invoker: Invoker;
  workers?: LaneWorkers;
}

describe('startHttpServer', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-http-'));
  const workerPath = path.join(dir, 'cpu-worker.js');
  const cluster = `http${randomUUID().slice(0, 8)}`;
  const prefix = `lwtest-${randomUUID().slice(0, 8)}`;
  const redis: Redis[] = [];
  let a: Replica;
  let b: Replica;
  let routes: RouteTable;
  let http: RunningHttpServer;
  let base: string;
  let drained = false;

  const replica = async (server: string, withRemote: boolean): Promise<Replica> => {
    const registry = new ServiceRegistry({ loadTimeoutMs: 2000 });
    const refs: { invoker?: Invoker } = {};
    const pool = new CpuPool({
      size: 1,
      workerPath,
      threadData: { cluster, server },
      logger,
      onInvoke: (service, input, timeoutMs) => refs.invoker!.invokeFromService(service, input, timeoutMs),
    });
    await pool.start();
    const update = { revision: 1, full: true, services: specs(withRemote), removed: [] };
    const prepared = await registry.prepare(update);
    expect(prepared.errors).toEqual([]);
    expect(await pool.apply(registry.ofLane('cpu', prepared))).toEqual([]);
    registry.commit(prepared);
    const lanes = new LaneClient({ redis: redisUrl, prefix });
    // No connections in this cluster: an empty set, the real class.
    const connections = new Connectors({ server });
    const invoker = (refs.invoker = new Invoker({ cluster, server, registry, pool, lanes, logger, cpuJobTimeoutMs: 10_000, connections }));
    return { registry, pool, lanes, invoker };
  };

  beforeAll(async () => {
    await buildThreadEntry('cpu/cpu-worker.ts', workerPath);
    [a, b] = await Promise.all([replica('a', false), replica('b', true)]);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const publisher = new Redis(redisUrl, { maxRetriesPerRequest: null });
    redis.push(connection, publisher);
    // Only b takes jobs from the queues: what a cannot start itself is seen to run on b.
    b.workers = new LaneWorkers({
      cluster,
      server: 'b',
      prefix,
      connection,
      publisher,
      invoker: b.invoker,
      networkConcurrency: 20,
      networkFetchers: 1,
      cpuConcurrency: 1,
      lockMs: 30_000,
      logger,
    });
    await b.workers.start();
    routes = new RouteTable(ROUTES, { reserved: RESERVED_PATHS });
    http = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      health: { serving: () => !drained, drained: () => drained, details: () => ({ server: 'a', revision: 1 }) },
      routes,
      invoker: a.invoker,
      logger,
      enqueue: new AsyncEnqueuer(publisher, prefix, cluster, a.invoker, () => true).enqueue,
      maxBodyBytes: 64 * 1024,
      requestTimeoutMs: 1000,
      maxHeaderBytes: 8 * 1024,
    });
    base = `http://127.0.0.1:${http.port}`;
  });

  afterAll(async () => {
    await http?.close();
    await b?.workers?.close(2000);
    for (const r of [a, b]) {
      await r?.pool.close();
      await r?.lanes.close();
    }
    const keys = await redis[0]!.keys(`${prefix}:*`);
    if (keys.length) await redis[0]!.del(...keys);
    await Promise.all(redis.map((r) => r.quit()));
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (p: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: Json }> => {
    const response = await fetch(`${base}${p}`, init);
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json: json as Json };
  };
  const expectError = (r: Awaited<ReturnType<typeof call>>, status: number, code: string, field?: string) => {
    expect({ status: r.status, code: r.json?.error?.code, field: r.json?.error?.field }).toEqual({ status, code, field });
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  };

  it('answers GET /metrics 404 when metrics are off (LANEWAY_METRICS=off); no channel may take the path', async () => {
    const r = await call('/metrics');
    expectError(r, 404, 'NOT_FOUND');
    expect(r.json?.error?.message).toContain('LANEWAY_METRICS=off');
    expect(routes.check([{ name: 'm', method: 'GET', path: '/metrics', service: 'x', security: '', timeoutMs: 0 }])).toEqual([
      { route: 'm', message: expect.stringContaining('which the server serves itself') },
    ]);
  });

  it('merges path parameters over the query over the JSON body, and shows the request as ctx.http', async () => {
    const r = await call('/echo/42?id=q&x=1&x=2&name=from%20query&plus=a+b', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'client-id-1' },
      body: JSON.stringify({ name: 'from body', id: 'b', keep: true }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('client-id-1');
    expect(r.json['input']).toEqual({ name: 'from query', id: '42', keep: true, x: ['1', '2'], plus: 'a b' });
    expect(r.json['server']).toBe('a');
    expect(r.json['http']).toMatchObject({
      channel: 'echo-post',
      method: 'POST',
      path: '/echo/42',
      query: { id: 'q', x: ['1', '2'], name: 'from query', plus: 'a b' },
      params: { id: '42' },
      rawBody: JSON.stringify({ name: 'from body', id: 'b', keep: true }),
      requestId: 'client-id-1',
      headers: { 'x-request-id': 'client-id-1', 'content-type': 'application/json; charset=utf-8' },
    });
    const array = await call('/echo/7', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[1,2]' });
    expect(array.json['input']).toEqual({ body: [1, 2], id: '7' });
    const empty = await call('/echo/%E2%82%AC%2F?q=%C3%A9');
    expect(empty.json['input']).toEqual({ id: '€/', q: 'é' });
  });

  it('sends an httpResponse as the service shaped it, and plain outputs as JSON', async () => {
    const made = await call('/custom');
    expect(made.status).toBe(201);
    expect(made.text).toBe('made');
    expect(made.headers.get('location')).toBe('/x/1');
    expect(made.headers.get('content-length')).toBe('4');
    expect(made.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const response = await fetch(`${base}/bytes`);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([0, 1, 254, 255]);
  });

  it('answers a bodiless GET (taken past fastify) exactly as the same request through fastify', async () => {
    // The same GET, once plain (the fast path) and once announcing a chunked body that is empty, which
    // sends it through fastify: status, headers (but the per-request ones) and body must agree.
    const get = (p: string, chunked: boolean) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = httpRequest(`${base}${p}`, { method: 'GET', headers: chunked ? { 'transfer-encoding': 'chunked' } : {} }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            const { date: _date, 'x-request-id': id, connection: _c, 'keep-alive': _k, ...headers } = res.headers;
            expect(id).toBeTruthy();
            resolve({ status: res.statusCode!, headers, body });
          });
        });
        req.on('error', reject);
        req.end();
      });
    for (const p of ['/custom', '/bytes', '/boom', '/private', '/echo/%zz', '/nothing-here', '/typed']) {
      const [fast, framework] = [await get(p, false), await get(p, true)];
      expect(fast, p).toEqual(framework);
    }
    // A timeout names the time the service had left when it started, which depends on how busy the
    // machine was between the request and the call ("within 400 ms", or 399 under load).
    const [slowFast, slowFramework] = [await get('/slow?ms=1000', false), await get('/slow?ms=1000', true)];
    const unclocked = (a: { status: number; headers: Record<string, unknown>; body: string }) => ({
      ...a,
      headers: { ...a.headers, 'content-length': '' },
      body: a.body.replace(/within \d+ ms/, 'within N ms'),
    });
    expect(slowFast.body).toMatch(/"code":"TIMEOUT".*within \d+ ms/);
    expect(unclocked(slowFast)).toEqual(unclocked(slowFramework));
    const [fast, framework] = [await get('/echo/7?q=1', false), await get('/echo/7?q=1', true)];
    expect(fast.status).toBe(200);
    // ctx.http.headers differ (one request carries transfer-encoding), so the lengths do too.
    expect({ ...fast.headers, 'content-length': '' }).toEqual({ ...framework.headers, 'content-length': '' });
    expect((JSON.parse(fast.body) as Json)['input']).toEqual((JSON.parse(framework.body) as Json)['input']);
  });

  it('answers each refusal with its status, code, field and x-request-id', async () => {
    const json = { 'content-type': 'application/json' };
    expectError(await call('/echo/1', { method: 'POST', headers: json, body: '{"a":' }), 400, 'INVALID_JSON', 'body');
    expectError(await call('/echo/%zz'), 400, 'BAD_ENCODING', 'path');
    expectError(await call('/echo/1?a=%E0%A4'), 400, 'BAD_ENCODING', 'query');
    const typed = await call('/typed', { method: 'POST', headers: json, body: '{"age":"x"}' });
    expectError(typed, 400, 'INVALID_INPUT', 'age');
    expect(typed.json['error'].message).toBe("service 'typed' rejected its input: field 'age': expected digits");
    expect((await call('/typed?age=41', { method: 'POST' })).json).toEqual({ age: 41 });
    expectError(await call('/nope'), 404, 'NOT_FOUND', 'path');
    const wrong = await call('/echo/1', { method: 'DELETE' });
    expectError(wrong, 405, 'METHOD_NOT_ALLOWED', 'method');
    expect(wrong.headers.get('allow')).toBe('GET, POST, PUT');
    expectError(await call('/echo/1', { method: 'POST', headers: json, body: JSON.stringify({ big: 'x'.repeat(70_000) }) }), 413, 'BODY_TOO_LARGE', 'body');
    expectError(await call('/echo/1', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type');
    const boom = await call('/boom');
    expectError(boom, 500, 'SERVICE_FAILED');
    expect(boom.json['error'].message).toBe("service 'boom' failed: kaput");
    expect(boom.text).not.toMatch(/\bat /);
    const slow = await call('/slow?ms=2000');
    expectError(slow, 504, 'TIMEOUT');
    expect(slow.json['error'].message).toMatch(/service 'slow' did not finish within \d+ ms/);
    expectError(await call('/private'), 401, 'UNAUTHENTICATED');
    const ghost = await call('/ghost');
    expectError(ghost, 503, 'SERVICE_NOT_DEPLOYED');
    expect(ghost.headers.get('retry-after')).toBe('1');
    // An x-request-id that is not plain is replaced by a generated one.
    const insane = await call('/nope', { headers: { 'x-request-id': 'has spaces and "quotes"' } });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 405 with Allow to any method a path does not serve (QUERY, PROPFIND, OPTIONS...), and 404 where no channel has the path', async () => {
    /** One request with any method (fetch refuses some), answered as status, Allow and error. */
    const send = (method: string, p: string, body?: string) =>
      new Promise<{ status: number; allow: string | undefined; requestId: unknown; error: Json['error'] | undefined }>((resolve, reject) => {
        const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
        const req = httpRequest(`${base}${p}`, { method, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, allow: res.headers['allow'], requestId: res.headers['x-request-id'], error: text ? (JSON.parse(text) as Json).error : undefined }),
          );
        });
        req.on('error', reject);
        req.end(body);
      });
    for (const method of ['QUERY', 'PROPFIND', 'MKCOL', 'SEARCH', 'OPTIONS', 'TRACE', 'DELETE', 'PATCH']) {
      const r = await send(method, '/echo/abc');
      expect(r, method).toMatchObject({ status: 405, allow: 'GET, POST, PUT', requestId: expect.any(String), error: { code: 'METHOD_NOT_ALLOWED', field: 'method' } });
      expect(r.error!.message).toBe(`path "/echo/abc" does not accept method ${method}; it accepts GET, POST, PUT`);
    }
    // A body changes nothing (QUERY carries one), nor does HEAD's missing body.
    expect(await send('QUERY', '/echo/abc', '{"q":1}')).toMatchObject({ status: 405, allow: 'GET, POST, PUT' });
    expect(await send('HEAD', '/echo/abc')).toMatchObject({ status: 405, allow: 'GET, POST, PUT' });
    // The listener's own paths answer GET (and HEAD) only.
    for (const method of ['POST', 'PROPFIND']) expect(await send(method, '/healthz')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
    expect(await send('HEAD', '/healthz')).toMatchObject({ status: 200 });
    // Paths no channel has stay 404, whatever the method; a bad encoding stays 400.
    for (const method of ['QUERY', 'PROPFIND', 'GET', 'POST']) {
      expect(await send(method, '/nothing/here'), method).toMatchObject({ status: 404, allow: undefined, error: { code: 'NOT_FOUND', field: 'path' } });
    }
    expect(await send('PROPFIND', '/echo/%zz')).toMatchObject({ status: 400, error: { code: 'BAD_ENCODING', field: 'path' } });
    expect((await send('GET', '/echo/abc')).status).toBe(200);
  });

  /** An async job once its first attempt is over: failed (not retried), delayed (to be retried) or completed. */
  const settled = async (id: string): Promise<AsyncJobInfo> => {
    for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      const job = await a.lanes.getJob(cluster, id);
      if (job && (job.state === 'failed' || job.state === 'delayed' || job.state === 'completed')) return job;
    }
    throw new Error(`job ${id} did not finish its first attempt in time`);
  };
  /** Jobs in the cluster's lane queues, in every state. */
  const queued = async (): Promise<number> => {
    let total = 0;
    for (const lane of ['network', 'cpu'] as const) {
      const queue = new Queue(laneQueueName(cluster, lane), { connection: redis[0]!, prefix });
      total += Object.values(await queue.getJobCounts()).reduce((x, y) => x + y, 0);
      await queue.close();
    }
    return total;
  };

  it('checks an async channel’s input against the service schema before queueing: 400 naming the field, as a sync channel, and nothing queued', async () => {
    const json = { 'content-type': 'application/json' };
    const before = await queued();
    const bad = await call('/async/typed', { method: 'POST', headers: json, body: '{"age":"x"}' });
    expectError(bad, 400, 'INVALID_INPUT', 'age');
    expect(bad.json.error.message).toBe("service 'typed' rejected its input: field 'age': expected digits");
    // A CPU-lane service's schema lives in the CPU threads: one of this server's checks it.
    const cpu = await call('/async/cpu/x', { method: 'POST' });
    expectError(cpu, 400, 'INVALID_INPUT', 'n');
    expect(cpu.json.error.message).toBe("service 'cpu.typed' rejected its input: field 'n': expected digits");
    expect(await queued()).toBe(before);

    const good = await call('/async/typed', { method: 'POST', headers: json, body: '{"age":"41"}' });
    expect(good.status).toBe(202);
    expect(await settled(String(good.json['jobId']))).toMatchObject({ state: 'completed', output: { age: 41 }, attemptsMade: 1 });
    const goodCpu = await call('/async/cpu/7', { method: 'POST' });
    expect(goodCpu.status).toBe(202);
    expect(await settled(String(goodCpu.json['jobId']))).toMatchObject({ state: 'completed', output: { n: 7 } });
  });

  it('fails an async job at once, without retries, when the service refuses its input or marks its error not retryable; other errors are retried', async () => {
    // As InvokeAsync queues (no check before): the worker's validation fails the job for good.
    const queue = (service: string, lane: 'network' | 'cpu', input: unknown) =>
      a.lanes.invokeAsync({ cluster, lane, service, input, attempts: 5, backoffMs: 60_000 });
    const invalid = await settled(await queue('typed', 'network', { age: 'x' }));
    expect(invalid).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: "service 'typed' rejected its input: field 'age': expected digits" });
    const invalidCpu = await settled(await queue('cpu.typed', 'cpu', { n: 'x' }));
    expect(invalidCpu).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: "service 'cpu.typed' rejected its input: field 'n': expected digits" });
    // ServiceInvocationError's retryable: false, thrown on the event loop and in a CPU thread.
    expect(await settled(await queue('refuses', 'network', { id: 7 }))).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: 'customer 7 is closed for good' });
    expect(await settled(await queue('cpu.typed', 'cpu', { n: '0' }))).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: 'zero is never accepted' });
    // Any other failure waits for its next attempt.
    expect(await settled(await queue('boom', 'network', {}))).toMatchObject({ state: 'delayed', attemptsMade: 1, failedReason: "service 'boom' failed: kaput" });
  });

  it('records a schedule’s run that its service refuses as failed at its first attempt; other failures are retried first', async () => {
    const schedules = new ScheduleQueues({ redis: redisUrl, prefix });
    try {
      const runsOf = async (name: string): Promise<ScheduleRunRecord[]> => {
        for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
          const runs = await schedules.runs(cluster, name, 10);
          if (runs.length) return runs;
        }
        throw new Error(`schedule ${name} recorded no run in time`);
      };
      const invalid = await schedules.runNow(cluster, 'bad-input', { service: 'typed', lane: 'network', input: { age: 'x' }, overlap: 'allow', attempts: 5 });
      expect(await runsOf('bad-input')).toEqual([
        expect.objectContaining({ jobId: invalid, outcome: 'failed', attempt: 1, error: "service 'typed' rejected its input: field 'age': expected digits" }),
      ]);
      await schedules.runNow(cluster, 'flaky', { service: 'boom', lane: 'network', input: {}, overlap: 'allow', attempts: 2 });
      expect(await runsOf('flaky')).toEqual([expect.objectContaining({ outcome: 'failed', attempt: 2 })]);
    } finally {
      await schedules.close();
    }
  });

  it('answers each channel only with statuses its OpenAPI operation documents', async () => {
    const doc = openApiDocument({ cluster, revision: 1, routes: ROUTES, security: [], schemasOf: () => ({}) });
    const documented = (method: string, p: string): string[] =>
      Object.keys(((doc['paths'] as Record<string, Record<string, { responses: object }>>)[p]?.[method.toLowerCase()]?.responses ?? {}) as object);
    const json = { 'content-type': 'application/json' };
    const probes: [string, string, RequestInit & { method: string }][] = [
      // An empty path parameter matches no channel.
      ['/echo/{id}', '/echo/', { method: 'GET' }],
      ['/echo/{id}', '/echo/%zz', { method: 'GET' }],
      ['/echo/{id}', '/echo/1', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }],
      ['/echo/{id}', '/echo/1', { method: 'PUT', headers: json, body: JSON.stringify({ big: 'x'.repeat(70_000) }) }],
      ['/echo/{id}', '/echo/1', { method: 'PUT', headers: json, body: '{' }],
      ['/typed', '/typed', { method: 'POST', headers: json, body: '{"age":"x"}' }],
      ['/private', '/private', { method: 'GET' }],
      ['/boom', '/boom', { method: 'GET' }],
      ['/slow', '/slow?ms=1000', { method: 'GET' }],
      ['/ghost', '/ghost', { method: 'GET' }],
      ['/async/typed', '/async/typed', { method: 'POST', headers: json, body: '{"age":"x"}' }],
      ['/async/typed', '/async/typed', { method: 'POST', headers: { ...json, 'idempotency-key': 'k'.repeat(300) }, body: '{"age":"1"}' }],
      ['/async/typed', '/async/typed', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }],
      ['/async/typed', '/async/typed', { method: 'POST', headers: json, body: '{"age":"1"}' }],
    ];
    const seen = new Set<number>();
    for (const [operation, p, init] of probes) {
      const { status } = await call(p, init);
      seen.add(status);
      expect(documented(init.method, operation), `${init.method} ${p} answered ${status}`).toContain(String(status));
    }
    // The probes reached every kind of answer the document names for channels like these.
    expect([...seen].sort()).toEqual([202, 400, 401, 404, 413, 415, 500, 503, 504]);
    // A GET's body is not read (no 413 or 415 documented there): fetch sends none, so by hand.
    const get = await raw('GET /echo/1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    expect(get).toMatch(/^HTTP\/1\.1 200 /);
    expect(documented('GET', '/echo/{id}')).toContain('200');
  });

  it('runs CPU-lane services in this server’s pool, and through the queue when its thread is busy', async () => {
    expect((await call('/cpu/5?n=5')).json).toEqual({ n: '5', server: 'a', params: { n: '5' } });
    const [busy, overflow] = await Promise.all([call('/cpu/1?ms=600'), new Promise((r) => setTimeout(r, 100)).then(() => call('/cpu/2'))]);
    expect(busy.json).toMatchObject({ server: 'a' });
    // ctx.http travelled with the job to the other server.
    expect(overflow.json).toEqual({ n: '2', server: 'b', params: { n: '2' } });
  });

  it('sends a call past the service’s concurrency bulkhead through the queue, and a service not loaded here too', async () => {
    const servers = (await Promise.all([call('/bulk?ms=300'), call('/bulk?ms=300')])).map((r) => r.json['server']).sort();
    expect(servers).toEqual(['a', 'b']);
    const remote = await call('/remote/x%20y?k=v', { headers: { 'x-request-id': 'rid-remote' } });
    expect(remote.json).toMatchObject({ server: 'b', input: { x: 'x y', k: 'v' }, http: { params: { x: 'x y' }, requestId: 'rid-remote' } });
  });

  it('says on /healthz that a drained server is drained (503), answers its channels, and serves no /debug/memory to the public', async () => {
    const healthy = await call('/healthz');
    expect(healthy.status).toBe(200);
    expect(healthy.json).toEqual({ status: 'serving', server: 'a', revision: 1 });
    expect(healthy.headers.get('x-request-id')).toBeTruthy();
    drained = true;
    const health = await call('/healthz');
    expect(health.status).toBe(503);
    expect(health.json).toEqual({ status: 'drained', server: 'a', revision: 1 });
    expect((await call('/echo/1')).status).toBe(200);
    drained = false;
    // The debugging endpoints are on the debug listener (LANEWAY_DEBUG_ADDR) only.
    expectError(await call('/debug/memory?gc=1'), 404, 'NOT_FOUND', 'path');
  });

  it('swaps the route table under load without failing a request', async () => {
    const other = ROUTES.filter((r) => r.name !== 'custom').concat(route('added', 'GET', '/added/:id', 'echo'));
    let stop = false;
    const statuses: number[] = [];
    const loop = async (): Promise<void> => {
      while (!stop) statuses.push((await call('/echo/1?x=1')).status);
    };
    const slow = Promise.all(Array.from({ length: 20 }, () => call('/slow?ms=150')));
    const loops = Promise.all(Array.from({ length: 8 }, loop));
    for (let i = 0; i < 20; i++) {
      expect(routes.replace(i % 2 ? ROUTES : other)).toEqual([]);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(routes.replace(other)).toEqual([]);
    stop = true;
    await loops;
    expect((await slow).map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect((await call('/added/9')).json['input']).toEqual({ id: '9' });
    expectError(await call('/custom'), 404, 'NOT_FOUND', 'path');
    expect(routes.replace([...ROUTES, route('bad', 'GET', 'no-slash', 'echo')])).toEqual([
      { route: 'bad', message: `route 'bad' has path "no-slash": it must start with '/'` },
    ]);
    expect((await call('/added/9')).status).toBe(200);
    expect(routes.replace(ROUTES)).toEqual([]);
  });

  /** Sends raw bytes on a fresh connection and returns what came back until the server closed it (or `waitMs`). */
  const raw = (bytes: string, waitMs = 3000): Promise<string> =>
    new Promise((resolve) => {
      const socket = net.connect(http.port, '127.0.0.1');
      let got = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(got);
      }, waitMs);
      socket.on('data', (d) => (got += d.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
      socket.on('error', () => undefined);
      socket.write(bytes);
    });

  it('answers hostile HTTP with a clean 4xx and keeps serving', async () => {
    const huge = await raw(`GET /echo/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toMatch(/x-request-id: [0-9a-f-]{36}\r\n/);
    expect(huge).toContain('"code":"HEADERS_TOO_LARGE"');
    const started = Date.now();
    const stalled = await raw(`POST /echo/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`, 5000);
    expect(stalled).toMatch(/^HTTP\/1\.1 408 /);
    expect(stalled).toContain('"code":"REQUEST_TIMEOUT"');
    expect(Date.now() - started).toBeLessThan(3000);
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    const chunked = await raw(
      `POST /echo/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${(70_000).toString(16)}\r\n${'1'.repeat(70_000)}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    const badUrl = await raw('GET /%%%?%%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(badUrl).toMatch(/^HTTP\/1\.1 400 /);
    expect(badUrl).toMatch(/x-request-id: /i);
    const deep = await call('/echo/1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '['.repeat(30_000) + ']'.repeat(30_000) });
    expect([200, 500]).toContain(deep.status);
    expect((await call('/healthz')).status).toBe(200);
    expect((await call('/echo/1')).status).toBe(200);
  });

  it('caps channel requests in flight and closes after finishing the ones running', async () => {
    const small = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      health: { serving: () => true, details: () => ({}) },
      routes,
      invoker: a.invoker,
      logger,
      maxInFlight: 1,
      closeTimeoutMs: 5000,
    });
    const at = `http://127.0.0.1:${small.port}`;
    const first = fetch(`${at}/slow?ms=300`);
    await new Promise((r) => setTimeout(r, 50));
    const refused = await fetch(`${at}/echo/1`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED');
    expect((await fetch(`${at}/healthz`)).status).toBe(200);
    const closing = Date.now();
    const closed = small.close();
    const answer = await first;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ slept: 300 });
    await closed;
    // The keep-alive connection is ended with the answer, not left for close() to wait on.
    expect(Date.now() - closing).toBeLessThan(2000);
    await expect(fetch(`${at}/healthz`)).rejects.toThrow();
    expect(small.inFlight).toBe(0);
  });
});
