import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestConnection } from '@laneway/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from './connection-error';
import { Connectors } from './connectors';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP API: /echo answers what it got as JSON, /flaky 503s, /slow answers late, /text is plain. */
function handler(seen: Seen[], counters: Map<string, number>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const url = new URL(req.url!, 'http://x');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const n = (counters.get(url.pathname) ?? 0) + 1;
      counters.set(url.pathname, n);
      if (url.pathname.endsWith('/flaky') && n <= Number(url.searchParams.get('fail') ?? 2)) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      } else if (url.pathname.endsWith('/slow')) {
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'), 600);
      } else if (url.pathname.endsWith('/text')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-thing': 'a' }).end('plain words');
      } else {
        res
          .writeHead(url.pathname.endsWith('/created') ? 201 : 200, { 'content-type': 'application/json; charset=utf-8' })
          .end(JSON.stringify({ method: req.method, url: req.url, body: !body ? null : req.headers['content-type'] === 'application/json' ? JSON.parse(body) : body, attempt: n }));
      }
    });
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return String((server.address() as AddressInfo).port);
}

function openSockets(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

async function until(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && !(await check())) await new Promise((r) => setTimeout(r, 20));
}

function rest(fields: Partial<RestConnection>): { rest: RestConnection } {
  return { rest: { baseUrl: '', headers: {}, timeoutMs: 0, retries: 0, caPem: '', ...fields } };
}

describe('Connectors: REST', () => {
  const seen: Seen[] = [];
  const counters = new Map<string, number>();
  const http = createHttpServer(handler(seen, counters));
  let base = '';
  let dir = '';
  let caPem = '';
  let httpsBase = '';
  let https: Server | undefined;

  beforeAll(async () => {
    base = `http://127.0.0.1:${await listen(http)}/api/v1`;
    dir = mkdtempSync(join(tmpdir(), 'lw-tls-'));
    execFileSync('/usr/bin/openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    caPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    https = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: caPem }, handler(seen, counters));
    httpsBase = `https://127.0.0.1:${await listen(https)}/secure`;
  });

  afterAll(async () => {
    http.closeAllConnections();
    https?.closeAllConnections();
    await new Promise((r) => http.close(r));
    await new Promise((r) => (https ? https.close(r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends JSON with default headers, auth and query, and parses JSON or text answers', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'bearer', version: 'v1', spec: rest({ baseUrl: `${base}/`, headers: { 'X-Tenant': 'acme' }, bearer: { token: 'tok-123', tokenSet: true } }) },
      { name: 'basic', version: 'v1', spec: rest({ baseUrl: base, basic: { username: 'ada', password: 'pw:1', passwordSet: true } }) },
      { name: 'key', version: 'v1', spec: rest({ baseUrl: base, apiKey: { header: 'X-Api-Key', key: 'k-9', keySet: true } }) },
    ]);
    try {
      const posted = await connectors.rest('bearer').post('/orders/created', { id: 7, tags: ['a'] }, { query: { dry: true, tag: ['x', 'y'], skip: undefined } });
      expect(posted.status).toBe(201);
      expect(posted.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(posted.body).toEqual({ method: 'POST', url: '/api/v1/orders/created?dry=true&tag=x&tag=y', body: { id: 7, tags: ['a'] }, attempt: 1 });
      const last = seen.at(-1)!;
      expect(last.headers['authorization']).toBe('Bearer tok-123');
      expect(last.headers['x-tenant']).toBe('acme');
      expect(last.headers['content-type']).toBe('application/json');

      const got = await connectors.rest('basic').get('text', { headers: { 'X-Extra': '1' } });
      expect(got).toMatchObject({ status: 200, body: 'plain words', headers: { 'x-thing': 'a' } });
      expect(seen.at(-1)!.headers['authorization']).toBe(`Basic ${Buffer.from('ada:pw:1').toString('base64')}`);
      expect(seen.at(-1)!.headers['x-extra']).toBe('1');

      for (const method of ['put', 'patch'] as const) {
        const res = await connectors.rest('key')[method]('/items/1', 'raw text');
        expect(res.body).toMatchObject({ method: method.toUpperCase(), url: '/api/v1/items/1', body: 'raw text' });
        expect(seen.at(-1)!.headers['x-api-key']).toBe('k-9');
        expect(seen.at(-1)!.headers['content-type']).toBe('text/plain; charset=utf-8');
      }
      const deleted = await connectors.rest('key').delete('/items/1');
      expect(deleted.body).toMatchObject({ method: 'DELETE', body: null });
    } finally {
      await connectors.close();
    }
  });

  it('retries GET after a 503 but never POST, and returns the last answer when retries run out', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'api', version: 'v1', spec: rest({ baseUrl: base, retries: 2 }) }]);
    try {
      const got = await connectors.rest('api').get('/get/flaky', { query: { fail: 2 } });
      expect(got).toMatchObject({ status: 200, body: { attempt: 3 } });
      expect(counters.get('/api/v1/get/flaky')).toBe(3);

      const posted = await connectors.rest('api').post('/post/flaky', { a: 1 }, { query: { fail: 2 } });
      expect(posted).toMatchObject({ status: 503, body: 'busy' });
      expect(counters.get('/api/v1/post/flaky')).toBe(1);

      const exhausted = await connectors.rest('api').get('/out/flaky', { query: { fail: 10 } });
      expect(exhausted.status).toBe(503);
      expect(counters.get('/api/v1/out/flaky')).toBe(3);
    } finally {
      await connectors.close();
    }
  });

  it('times out an attempt, names the connection and keeps the token out of errors', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'api', version: 'v1', spec: rest({ baseUrl: base, timeoutMs: 150, bearer: { token: 'tok-secret', tokenSet: true } }) },
      { name: 'down', version: 'v1', spec: rest({ baseUrl: 'http://127.0.0.1:1', retries: 1, bearer: { token: 'tok-secret', tokenSet: true } }) },
    ]);
    try {
      const started = Date.now();
      const err = (await connectors.rest('api').get('/slow').catch((e: unknown) => e)) as ConnectionError;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.code).toBe('TIMEOUT');
      expect(err.message).toBe(`connection 'api' (rest ${base}): timed out: GET /api/v1/slow: no complete answer within 150 ms`);
      expect(Date.now() - started).toBeLessThan(550);
      // A per-call deadline overrides the connection's.
      expect(await connectors.rest('api').get('/slow', { timeoutMs: 2_000 })).toMatchObject({ body: { late: true } });

      const refused = (await connectors.rest('down').get('/x').catch((e: unknown) => e)) as ConnectionError;
      expect(refused.code).toBe('REFUSED');
      expect(refused.message).toMatch(/^connection 'down' \(rest http:\/\/127\.0\.0\.1:1\/\): connection refused/);
      expect(refused.message).not.toContain('tok-secret');

      const controller = new AbortController();
      const pending = connectors.rest('api').get('/slow', { timeoutMs: 2_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(pending).rejects.toMatchObject({ code: 'ABORTED', connection: 'api' });

      const wrongKind = (() => {
        try {
          connectors.sql('api');
        } catch (e) {
          return e as ConnectionError;
        }
      })();
      expect(wrongKind?.code).toBe('WRONG_KIND');
    } finally {
      await connectors.close();
    }
  });

  it('trusts ca_pem for https, and refuses the certificate without it', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'tls', version: 'v1', spec: rest({ baseUrl: httpsBase, caPem }) },
      { name: 'untrusted', version: 'v1', spec: rest({ baseUrl: httpsBase }) },
    ]);
    try {
      const res = await connectors.rest('tls').post('/things', { ok: 1 });
      expect(res.body).toMatchObject({ method: 'POST', url: '/secure/things', body: { ok: 1 } });
      const err = (await connectors.rest('untrusted').get('/things').catch((e: unknown) => e)) as ConnectionError;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.code).toBe('TLS');
      expect(await connectors.test('tls', 3_000)).toMatchObject({ ok: true });
      expect(await connectors.test('untrusted', 3_000)).toMatchObject({ ok: false, error: expect.stringContaining("connection 'untrusted' (rest https://127.0.0.1:") });
    } finally {
      await connectors.close();
    }
  });

  it('moves calls to new settings and closes the old pool after its calls finish', async () => {
    const other = createHttpServer(handler([], new Map()));
    const otherBase = `http://127.0.0.1:${await listen(other)}/other`;
    const connectors = new Connectors({ server: 'replica-1', drainTimeoutMs: 5_000 });
    connectors.replace([{ name: 'api', version: 'v1', spec: rest({ baseUrl: base }) }]);
    try {
      const client = connectors.rest('api');
      const inFlight = client.get('/slow');
      await new Promise((r) => setTimeout(r, 50));
      connectors.replace([{ name: 'api', version: 'v2', spec: rest({ baseUrl: otherBase }) }]);
      // The same client object follows the new settings at once…
      expect((await client.get('/x')).body).toMatchObject({ url: '/other/x' });
      // …while the call in flight on the old pool finishes there.
      expect(await inFlight).toMatchObject({ status: 200, body: { late: true } });
      await connectors.whenDrained();
      // The old pool's keep-alive sockets to the first server are closed.
      await until(async () => (await openSockets(http)) === 0);
      expect(await openSockets(http)).toBe(0);
      expect(await connectors.test('api', 2_000)).toMatchObject({ ok: true });
      connectors.replace([]);
      await expect(client.get('/x')).rejects.toMatchObject({ code: 'NOT_DEFINED' });
      await connectors.whenDrained();
    } finally {
      await connectors.close();
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  it('test() counts any HTTP status as reachable and a closed port as not', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'flaky', version: 'v1', spec: rest({ baseUrl: `${base}/probe/flaky?fail=100` }) },
      { name: 'down', version: 'v1', spec: rest({ baseUrl: 'http://127.0.0.1:1/' }) },
    ]);
    try {
      const up = await connectors.test('flaky', 2_000);
      expect(up.ok).toBe(true);
      const down = await connectors.test('down', 2_000);
      expect(down).toMatchObject({ ok: false, error: expect.stringContaining("connection 'down' (rest http://127.0.0.1:1/): connection refused") });
      expect(down.latencyMs).toBeGreaterThanOrEqual(0);
    } finally {
      await connectors.close();
    }
  });
});
