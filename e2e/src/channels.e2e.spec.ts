import { status } from '@grpc/grpc-js';
import { ApplyOutcome, JobState } from '@laneway/proto';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, cleanRedisPrefix, eventually, freePort, startControlPlane, startServer, uniqueName, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';

const services = `
import { defineService, httpResponse } from '@laneway/sdk';
import { z } from 'zod';

export const getCustomer = defineService({
  name: 'crm.get-customer',
  handle(input: { id: string; fields?: string; note?: string }, ctx) {
    return { id: input.id, fields: input.fields ?? null, note: input.note ?? null, server: ctx.server, method: ctx.http?.method ?? null };
  },
});

export const report = defineService({
  name: 'crm.report',
  lane: 'cpu',
  handle(input: { n: string }, ctx) {
    let x = 0;
    for (let i = 0; i < Number(input.n); i++) x += i % 7;
    return httpResponse({ status: 201, headers: { 'x-server': ctx.server }, body: { x } });
  },
});

export const createOrder = defineService({
  name: 'shop.create-order',
  input: z.object({ customerId: z.string(), quantity: z.number().int().min(1), note: z.string().optional() }),
  output: z.object({ orderId: z.string(), quantity: z.number() }),
  handle(input: { customerId: string; quantity: number }) {
    return { orderId: 'o-' + input.customerId, quantity: input.quantity };
  },
});

export const crunch = defineService({
  name: 'crm.crunch',
  lane: 'cpu',
  handle(input: { ms: string }, ctx) {
    const until = Date.now() + Number(input.ms);
    while (Date.now() < until) {}
    return { server: ctx.server };
  },
});

// Sleeps 'ms', or, given a 'gate' URL, waits until the test's gate answers: in flight for as long as
// the test needs, however slow the machine.
export const slow = defineService({
  name: 'crm.slow',
  async handle(input: { n: string; ms?: string; gate?: string }, ctx) {
    if (input.gate) await (await fetch(input.gate)).text();
    else await new Promise((resolve) => setTimeout(resolve, Number(input.ms ?? 0)));
    return { n: input.n, server: ctx.server };
  },
});

export const score = defineService({
  name: 'shop.score',
  lane: 'cpu',
  input: z.object({ basket: z.array(z.number()), coupon: z.string().optional() }),
  output: z.object({ score: z.number() }),
  handle(input: { basket: number[] }) {
    return { score: input.basket.reduce((a, b) => a + b, 0) };
  },
});

export const fails = defineService({
  name: 'crm.fails',
  handle() {
    throw new Error('the CRM said no');
  },
});
`;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * An HTTP server in the test that holds every request (crm.slow calls it) until `release()`, so that
 * channel requests stay in flight until the test has done what it must do meanwhile.
 */
async function openGate(): Promise<{ url: string; readonly waiting: number; release(): void; close(): Promise<void> }> {
  const held: ServerResponse[] = [];
  let open = false;
  const release = (): void => {
    open = true;
    for (const response of held.splice(0)) response.end('open');
  };
  const server = createServer((_request, response) => {
    if (open) response.end('open');
    else held.push(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get waiting() {
      return held.length;
    },
    release,
    close() {
      release();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// Channels are cluster resources: created through the control plane, pushed to every server, and
// answered by every server's HTTP listener without a restart.
describe('REST channels on two servers', () => {
  const prefix = uniqueName('lwchan');
  const cluster = uniqueName('channels');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-channels-'));
  let cp: ControlPlaneHandle;
  let api: Api;
  const servers: AppProcess[] = [];
  const ports: number[] = [];

  const http = async (server: number, route: string, init: RequestInit = {}): Promise<Answer> => {
    const response = await fetch(`http://127.0.0.1:${ports[server]}${route}`, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  beforeAll(async () => {
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' });
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    const joinToken = await api.joinToken(cluster);
    for (const name of ['s1', 's2']) {
      const port = await freePort();
      ports.push(port);
      servers.push(
        await startServer({
          LANEWAY_CONTROL_PLANE: cp.address,
          LANEWAY_CLUSTER: cluster,
          LANEWAY_SERVER_NAME: name,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_JOIN_TOKEN: joinToken,
          LANEWAY_HTTP_ADDR: `127.0.0.1:${port}`,
        }),
      );
    }
    await api.deploy(cluster, [{ path: 'crm.ts', content: services }]);
  });

  afterAll(async () => {
    api?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a channel that both servers answer, with path, query and body merged into the input', async () => {
    const created = await api.putChannel(cluster, { name: 'customer', method: 'POST', path: '/customers/:id', service: 'crm.get-customer' });
    expect(created.servers.map((s) => [s.server, s.outcome])).toEqual([
      ['s1', ApplyOutcome.APPLY_OUTCOME_ACKED],
      ['s2', ApplyOutcome.APPLY_OUTCOME_ACKED],
    ]);
    for (const server of [0, 1]) {
      const answer = await http(server, '/customers/42?fields=name', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `req-${server}` },
        body: JSON.stringify({ id: 'from-body', note: 'hi' }),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-request-id')).toBe(`req-${server}`);
      // The path parameter wins over the body; the call ran on the server that received it.
      expect(answer.body).toEqual({ id: '42', fields: 'name', note: 'hi', server: `s${server + 1}`, method: 'POST' });
    }
  });

  it('answers errors as JSON with a status and a request id', async () => {
    await api.putChannel(cluster, { name: 'fails', method: 'GET', path: '/fails', service: 'crm.fails' });
    const failed = await http(0, '/fails');
    expect(failed.status).toBe(500);
    expect(JSON.stringify(failed.body)).toContain('the CRM said no');
    expect(JSON.stringify(failed.body)).not.toMatch(/\n\s+at |\.ts:\d+/);
    const missing = await http(1, '/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBeTruthy();
    const wrongMethod = await http(0, '/customers/1');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    // A method no channel can have is 405 too, not fastify's 400 (QUERY) or 404 (PROPFIND).
    for (const method of ['QUERY', 'PROPFIND']) {
      const other = await http(0, '/customers/1', { method, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect({ method, status: other.status, allow: other.headers.get('allow') }).toEqual({ method, status: 405, allow: 'POST' });
    }
    const badJson = await http(0, '/customers/1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":' });
    expect(badJson.status).toBe(400);
  });

  it('runs a CPU-lane channel in the CPU pool, with the status and headers the service set', async () => {
    await api.putChannel(cluster, { name: 'report', method: 'GET', path: '/reports/:n', service: 'crm.report' });
    const answer = await http(1, '/reports/100000');
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ x: expect.any(Number) });
    expect(answer.headers.get('x-server')).toMatch(/^s[12]$/);
  });

  it('changes and deletes a channel while requests flow, failing none that should have succeeded', async () => {
    await api.putChannel(cluster, { name: 'moving', method: 'GET', path: '/v1/customers/:id', service: 'crm.get-customer' });
    let stop = false;
    const failures: string[] = [];
    let calls = 0;
    const loop = async (server: number): Promise<void> => {
      while (!stop) {
        const answer = await http(server, '/customers/7', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        calls++;
        if (answer.status !== 200) failures.push(`${answer.status} ${JSON.stringify(answer.body)}`);
      }
    };
    const loops = [loop(0), loop(1), loop(0), loop(1)];
    const moved = await api.putChannel(cluster, { name: 'moving', method: 'GET', path: '/v2/customers/:id', service: 'crm.get-customer' }, true);
    expect(moved.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    expect((await http(0, '/v1/customers/1')).status).toBe(404);
    expect((await http(1, '/v2/customers/1')).body).toMatchObject({ id: '1' });
    await api.deleteChannel(cluster, 'moving');
    expect((await http(1, '/v2/customers/1')).status).toBe(404);
    stop = true;
    await Promise.all(loops);
    expect(calls).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  it('keeps answering channels on a drained server while its health check says 503', async () => {
    await api.drain(cluster, 's2');
    try {
      const health = await http(1, '/healthz');
      expect({ status: health.status, body: health.body['status'] }).toEqual({ status: 503, body: 'drained' });
      const answer = await http(1, '/customers/9', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: '9', server: 's2' });
    } finally {
      await api.resume(cluster, 's2');
    }
    expect((await http(1, '/healthz')).status).toBe(200);
  });

  /** The channel of crm.slow, created by whichever test needs it first. */
  let slowChannel: Promise<unknown> | undefined;
  const ensureSlowChannel = () => (slowChannel ??= api.putChannel(cluster, { name: 'slow', method: 'GET', path: '/slow/:n', service: 'crm.slow' }));

  it('finishes the channel requests in flight on a server drained under them, and answers new ones, with 503 on /healthz', async () => {
    await ensureSlowChannel();
    const gate = await openGate();
    try {
      let settled = 0;
      const held = [1, 2, 3, 4].map((n) => http(1, `/slow/${n}?gate=${encodeURIComponent(gate.url)}`).finally(() => settled++));
      // All four run on s2 (a network-lane channel call runs on the server that received it).
      await eventually(async () => gate.waiting, (waiting) => waiting === 4, 30_000);
      await api.drain(cluster, 's2');
      try {
        const health = await eventually(() => http(1, '/healthz'), (h) => h.status === 503, 30_000);
        expect(health.body).toMatchObject({ status: 'drained', server: 's2', httpInFlight: 4 });
        // A request that reaches the drained server is still answered, while the four are in flight.
        const fresh = await http(1, '/slow/5?ms=0');
        expect(fresh.status).toBe(200);
        expect(fresh.body).toEqual({ n: '5', server: 's2' });
        expect(settled).toBe(0);
        gate.release();
        const answers = await Promise.all(held);
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
        expect(answers.map((a) => a.body)).toEqual([1, 2, 3, 4].map((n) => ({ n: String(n), server: 's2' })));
        expect((await http(1, '/healthz')).status).toBe(503);
      } finally {
        await api.resume(cluster, 's2');
      }
    } finally {
      await gate.close();
    }
    expect((await eventually(() => http(1, '/healthz'), (h) => h.status === 200, 30_000)).body).toMatchObject({ status: 'serving', httpInFlight: 0 });
  });

  describe('security definitions and rate limits', () => {
    const KEY = 'k3y-0123456789-abcdef-secret';
    const HS_SECRET = 'hs256-secret-0123456789-0123456789-abcdef';
    const get = (server: number, route: string, headers: Record<string, string> = {}) => http(server, route, { headers });

    it('lets a valid API key through on both servers, refuses a missing or wrong one with 401, and never shows the key', async () => {
      const created = await api.createSecurity(cluster, { name: 'partners', apiKey: { header: 'X-Api-Key', key: KEY, keySet: false } });
      expect(created.definition?.apiKey).toEqual({ header: 'x-api-key', key: '', keySet: true });
      expect(JSON.stringify(await api.getSecurity(cluster, 'partners'))).not.toContain(KEY);
      await api.putChannel(cluster, { name: 'partner-customer', method: 'GET', path: '/partners/customers/:id', service: 'crm.get-customer', security: 'partners' });
      for (const server of [0, 1]) {
        expect((await get(server, '/partners/customers/1', { 'x-api-key': KEY })).body).toMatchObject({ id: '1' });
        const missing = await get(server, '/partners/customers/1');
        expect(missing.status).toBe(401);
        expect(JSON.stringify(missing.body)).toContain('missing header x-api-key');
        expect((await get(server, '/partners/customers/1', { 'x-api-key': `${KEY}x` })).status).toBe(401);
      }
    });

    it('checks basic auth (401 with WWW-Authenticate) and bearer JWTs, HS256 and RS256 with issuer and audience', async () => {
      await api.createSecurity(cluster, { name: 'ops', basicAuth: { username: 'ada', password: 'lovelace-1815', passwordSet: false } });
      await api.putChannel(cluster, { name: 'ops-customer', method: 'GET', path: '/ops/customers/:id', service: 'crm.get-customer', security: 'ops' });
      const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
      expect((await get(0, '/ops/customers/2', basic('ada', 'lovelace-1815'))).body).toMatchObject({ id: '2' });
      expect((await get(1, '/ops/customers/2', basic('ada', 'lovelace-1815'))).body).toMatchObject({ id: '2' });
      const wrong = await get(0, '/ops/customers/2', basic('ada', 'babbage'));
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="ops-customer", charset="UTF-8"');

      await api.createSecurity(cluster, { name: 'apps-hs', jwt: { hs256Secret: HS_SECRET, publicKeyPem: '', issuer: 'https://id.example', audience: 'crm', secretSet: false } });
      await api.putChannel(cluster, { name: 'apps-customer', method: 'GET', path: '/apps/customers/:id', service: 'crm.get-customer', security: 'apps-hs' });
      const hsToken = (claims: { iss: string; aud: string }, expires = '2m') =>
        new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('app-1').setIssuer(claims.iss).setAudience(claims.aud).setIssuedAt().setExpirationTime(expires).sign(new TextEncoder().encode(HS_SECRET));
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      expect((await get(1, '/apps/customers/3', bearer(await hsToken({ iss: 'https://id.example', aud: 'crm' })))).body).toMatchObject({ id: '3' });
      expect((await get(0, '/apps/customers/3', bearer(await hsToken({ iss: 'https://evil.example', aud: 'crm' })))).status).toBe(401);
      expect((await get(0, '/apps/customers/3', bearer(await hsToken({ iss: 'https://id.example', aud: 'billing' })))).status).toBe(401);
      expect((await get(0, '/apps/customers/3', bearer(await hsToken({ iss: 'https://id.example', aud: 'crm' }, '-1m')))).status).toBe(401);
      expect((await get(0, '/apps/customers/3')).headers.get('www-authenticate')).toBe('Bearer');

      const { publicKey, privateKey } = await generateKeyPair('RS256');
      await api.createSecurity(cluster, { name: 'apps-rs', jwt: { hs256Secret: '', publicKeyPem: await exportSPKI(publicKey), issuer: '', audience: '', secretSet: false } });
      await api.putChannel(cluster, { name: 'apps-rs-customer', method: 'GET', path: '/apps-rs/customers/:id', service: 'crm.get-customer', security: 'apps-rs' });
      const rsToken = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('app-2').setExpirationTime('2m').sign(privateKey);
      expect((await get(0, '/apps-rs/customers/4', bearer(rsToken))).body).toMatchObject({ id: '4' });
      expect((await get(0, '/apps-rs/customers/4', bearer(await hsToken({ iss: 'x', aud: 'y' })))).status).toBe(401);
    });

    it('refuses to delete a definition a channel uses, naming the channel', async () => {
      const err = await api.deleteSecurity(cluster, 'partners').then(
        () => undefined,
        (e: { code: number; details: string }) => e,
      );
      expect(err?.code).toBe(status.FAILED_PRECONDITION);
      expect(err?.details).toContain("'partner-customer'");
    });

    it('shares one rate limit between both servers (429 with Retry-After past it)', async () => {
      await api.putChannel(cluster, { name: 'limited', method: 'GET', path: '/limited/:id', service: 'crm.get-customer', security: 'partners', rateLimitPerSecond: 5 });
      const startedSecond = Math.floor(Date.now() / 1000);
      const answers = await Promise.all(Array.from({ length: 40 }, (_, n) => get(n % 2, `/limited/${n}`, { 'x-api-key': KEY })));
      const windows = Math.floor(Date.now() / 1000) - startedSecond + 1;
      const ok = answers.filter((a) => a.status === 200);
      const limited = answers.filter((a) => a.status === 429);
      expect(ok.length + limited.length).toBe(40);
      // One budget of 5 per second for the caller across the cluster, in each second the burst spanned
      // (usually 1 or 2); a budget per server would have let twice as many through.
      expect(ok.length).toBeGreaterThanOrEqual(5);
      expect(ok.length).toBeLessThanOrEqual(5 * windows);
      expect(windows * 5 * 2).toBeLessThanOrEqual(40);
      expect(limited[0]!.headers.get('retry-after')).toBe('1');
      expect(JSON.stringify(limited[0]!.body)).toContain('allows 5 requests per second per caller');
    });
  });

  it('answers an async channel with 202 and a job id at once; an Idempotency-Key repeated returns the same job, run once', async () => {
    await api.putChannel(cluster, { name: 'async-report', method: 'POST', path: '/async/reports/:n', service: 'crm.report', async: true });
    const post = (server: number, key?: string) =>
      http(server, '/async/reports/1000', { method: 'POST', headers: key ? { 'idempotency-key': key } : {} });
    const first = await post(0, 'order-77');
    expect(first.status).toBe(202);
    const jobId = String(first.body['jobId']);
    expect(jobId).toMatch(/^async-report-/);
    // The same key on the other server: the same job, nothing queued again.
    const again = await post(1, 'order-77');
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ jobId });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await post(1);
    expect(other.body['jobId']).not.toBe(jobId);
    const job = await eventually(
      () => api.getJob(cluster, jobId),
      (j) => j.state === JobState.JOB_STATE_COMPLETED,
    );
    expect(job).toMatchObject({ service: 'crm.report', attemptsMade: 1 });
    // The other call's job too: a CPU thread still running it (they run at the lowest priority, and
    // wait long on a busy machine) is not idle, and a CPU-lane input check below would then be skipped
    // by design (queued unchecked, refused by the worker), answering 202.
    await eventually(
      () => api.getJob(cluster, String(other.body['jobId'])),
      (j) => j.state === JobState.JOB_STATE_COMPLETED,
    );

    // Input the service's schema refuses is answered 400 before anything is queued, as on a sync
    // channel (a network-lane service, then a CPU-lane one checked in a CPU thread).
    await api.putChannel(cluster, { name: 'async-order', method: 'POST', path: '/async/customers/{customerId}/orders', service: 'shop.create-order', async: true });
    await api.putChannel(cluster, { name: 'async-score', method: 'POST', path: '/async/scores', service: 'shop.score', async: true });
    const json = { 'content-type': 'application/json' };
    const refused = await http(0, '/async/customers/c9/orders', { method: 'POST', headers: json, body: JSON.stringify({ quantity: 0 }) });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { code: 'INVALID_INPUT', field: 'quantity' } });
    const refusedCpu = await http(1, '/async/scores', { method: 'POST', headers: json, body: JSON.stringify({ basket: 'x' }) });
    expect(refusedCpu.status).toBe(400);
    expect(refusedCpu.body).toMatchObject({ error: { code: 'INVALID_INPUT', field: 'basket' } });
    const queued = await http(1, '/async/customers/c9/orders', { method: 'POST', headers: json, body: JSON.stringify({ quantity: 2 }) });
    expect(queued.status).toBe(202);
    const order = await eventually(
      () => api.getJob(cluster, String(queued.body['jobId'])),
      (j) => j.state === JobState.JOB_STATE_COMPLETED,
    );
    expect(JSON.parse(order.outputJson)).toEqual({ orderId: 'o-c9', quantity: 2 });
  });

  it('validates input with the service schema (400 naming the field) and publishes a valid OpenAPI 3.1 document', async () => {
    await api.putChannel(cluster, { name: 'create-order', method: 'POST', path: '/customers/:customerId/orders', service: 'shop.create-order' });
    const post = (body: unknown) => http(0, '/customers/c9/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ quantity: 2 })).body).toEqual({ orderId: 'o-c9', quantity: 2 });
    const bad = await post({ quantity: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'INVALID_INPUT', field: 'quantity' } });
    expect(JSON.stringify(bad.body)).toContain("field 'quantity'");
    // A CPU-lane service: its schemas come from the CPU threads that loaded it.
    await api.putChannel(cluster, { name: 'score', method: 'POST', path: '/scores', service: 'shop.score' });
    const scored = await http(0, '/scores', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ basket: [1, 2, 3] }) });
    expect(scored.body).toEqual({ score: 6 });
    expect((await http(0, '/scores', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ basket: 'x' }) })).status).toBe(400);

    const doc = (await http(1, '/openapi.json')).body;
    const { Validator } = (await import('@seriousme/openapi-schema-validator')) as unknown as {
      Validator: new () => { validate(doc: unknown): Promise<{ valid: boolean; errors?: unknown }> };
    };
    const verdict = await new Validator().validate(doc);
    expect(verdict.errors ?? []).toEqual([]);
    expect(verdict.valid).toBe(true);
    const paths = doc['paths'] as Record<string, Record<string, Record<string, unknown>>>;
    const order = paths['/customers/{customerId}/orders']!['post']!;
    expect(order['operationId']).toBe('create-order');
    expect(JSON.stringify(order['requestBody'])).toContain('"quantity"');
    // quantity must be in the body: the body is required (the path gives customerId).
    expect(order['requestBody']).toMatchObject({ required: true });
    expect(Object.keys(order['responses'] as object).sort()).toEqual(['200', '400', '404', '413', '415', '500', '503', '504']);
    expect(JSON.stringify(order['responses'])).toContain('"orderId"');
    const score = paths['/scores']!['post']!;
    expect(score['requestBody']).toMatchObject({
      content: { 'application/json': { schema: { type: 'object', properties: { basket: { type: 'array', items: { type: 'number' } }, coupon: { type: 'string' } }, required: ['basket'] } } },
    });
    expect(score['responses']).toMatchObject({ '200': { content: { 'application/json': { schema: { properties: { score: { type: 'number' } }, required: ['score'] } } } } });
    expect(paths['/partners/customers/{id}']!['get']!['security']).toEqual([{ partners: [] }]);
    const schemes = (doc['components'] as Record<string, Record<string, unknown>>)['securitySchemes']!;
    expect(schemes).toMatchObject({ partners: { type: 'apiKey', in: 'header', name: 'x-api-key' }, ops: { type: 'http', scheme: 'basic' }, 'apps-hs': { type: 'http', scheme: 'bearer' } });
  });

  it('spreads a burst of CPU-lane channel calls on one server over both servers\' threads', async () => {
    await api.putChannel(cluster, { name: 'crunch', method: 'GET', path: '/crunch/:ms', service: 'crm.crunch' });
    // Eight 400 ms calls on s1, whose two threads are then busy: the overflow goes through the
    // cluster's CPU queue and s2's idle threads take it.
    const answers = await Promise.all(Array.from({ length: 8 }, () => http(0, '/crunch/400')));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const ranOn = answers.map((a) => a.body['server']);
    expect(new Set(ranOn)).toEqual(new Set(['s1', 's2']));
  });

  it('answers hostile HTTP with a clean 4xx and keeps serving', async () => {
    const net = await import('node:net');
    /** Sends raw bytes and returns the status line of the answer (or '' when the server just closed). */
    const raw = (bytes: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(ports[0]!, '127.0.0.1', () => socket.write(bytes));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
        socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
        // The server may close while we still write (EPIPE/ECONNRESET): what it answered is what counts.
        socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
        socket.setTimeout(20_000, () => socket.destroy());
      });
    expect((await http(0, '/customers/%E0%A4%A', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(400);
    expect(await raw(`GET /customers/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'x'.repeat(64 * 1024)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    expect(await raw('GARBAGE / HTTP/9.9\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect((await http(0, '/customers/1', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })).status).toBe(415);
    // A body announced over the limit is refused before it is read.
    expect(await raw('POST /customers/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\nConnection: close\r\n\r\n{')).toMatch(/^HTTP\/1\.1 413/);
    // Still serving, on the same process.
    expect(servers[0]!.alive).toBe(true);
    expect((await http(0, '/customers/5', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).body).toMatchObject({ id: '5' });
  });

  // Last: a third server joins the cluster for this test only, and ends.
  it('on SIGTERM stops accepting connections, finishes the channel requests in flight, then exits 0', async () => {
    await ensureSlowChannel();
    const net = await import('node:net');
    const port = await freePort();
    const s3 = await startServer({
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_CLUSTER: cluster,
      LANEWAY_SERVER_NAME: 's3',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: await api.joinToken(cluster),
      LANEWAY_HTTP_ADDR: `127.0.0.1:${port}`,
    });
    const exited = new Promise<number | null>((resolve) => s3.child.once('exit', (code) => resolve(code)));
    const gate = await openGate();
    try {
      const get = async (route: string): Promise<{ status: number; body: unknown }> => {
        const response = await fetch(`http://127.0.0.1:${port}${route}`);
        return { status: response.status, body: await response.json() };
      };
      // 'server serving' comes after the first push, channels included.
      expect(await get('/slow/0?ms=0')).toEqual({ status: 200, body: { n: '0', server: 's3' } });
      let settled = 0;
      const held = [1, 2, 3].map((n) => get(`/slow/${n}?gate=${encodeURIComponent(gate.url)}`).finally(() => settled++));
      await eventually(async () => gate.waiting, (waiting) => waiting === 3, 30_000);

      s3.child.kill('SIGTERM');
      await s3.waitForLog((l) => l.msg === 'shutting down: finishing in-flight jobs', 30_000);
      /** A new TCP connection to s3's listener: 'connected', or the error code. */
      const connect = (): Promise<string> =>
        new Promise((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.setTimeout(10_000, () => {
            socket.destroy();
            resolve('timeout');
          });
          socket.once('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        });
      // Refused while the three requests are still held in flight, and the process still runs.
      expect(await eventually(connect, (outcome) => outcome === 'ECONNREFUSED', 30_000)).toBe('ECONNREFUSED');
      expect(settled).toBe(0);
      expect(s3.alive).toBe(true);

      gate.release();
      expect(await Promise.all(held)).toEqual([1, 2, 3].map((n) => ({ status: 200, body: { n: String(n), server: 's3' } })));
      expect(await exited).toBe(0);
      expect(s3.child.signalCode).toBeNull();
      expect(s3.lines.some((l) => l.msg === 'HTTP listener stopped')).toBe(true);
      expect(s3.lines.some((l) => l.msg === 'server stopped')).toBe(true);
    } finally {
      await gate.close();
      await s3.kill9();
    }
  });
});
