import { status } from '@grpc/grpc-js';
import { JobState } from '@laneway/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, REDIS_URL, startCluster, TcpRelay, type TestCluster } from '@laneway/testkit';

const services = `
const { defineService } = require('@laneway/sdk');
exports.echo = defineService({ name: 'out.echo', handle: (input) => ({ got: input }) });
`;

describe('while Redis is unreachable: sync channel calls answered, rate limits let through, async channel calls and Invoke refused at once', () => {
  let c: TestCluster;
  let relay: TcpRelay;
  let base: string;

  beforeAll(async () => {
    const redis = new URL(REDIS_URL);
    relay = new TcpRelay({ host: redis.hostname, port: Number(redis.port || 6379) });
    const relayPort = await freePort();
    await relay.listen(relayPort);
    // The control plane and the server both reach Redis through the relay.
    const viaRelay = { REDIS_URL: `redis://127.0.0.1:${relayPort}` };
    c = await startCluster({ servers: 1, http: true, name: 'lwoutage', env: viaRelay, serverEnv: viaRelay });
    await c.api.deploy(c.cluster, [{ path: 'outage/services.js', content: services }]);
    await c.api.putChannel(c.cluster, { name: 'plain', method: 'GET', path: '/plain/:id', service: 'out.echo' });
    await c.api.putChannel(c.cluster, { name: 'limited', method: 'GET', path: '/limited/:id', service: 'out.echo', rateLimitPerSecond: 2 });
    await c.api.putChannel(c.cluster, { name: 'jobs', method: 'POST', path: '/jobs', service: 'out.echo', async: true });
    base = `http://127.0.0.1:${c.httpPorts[0]}`;
  });

  afterAll(async () => {
    relay?.up();
    await c?.stop();
    await relay?.close();
  });

  /** One request and how long its answer took. */
  const timed = async (path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; ms: number; retryAfter: string | null }> => {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, body, ms: performance.now() - started, retryAfter: response.headers.get('retry-after') };
  };
  const post = (n: number): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) });
  /** Five requests at once to the 2-per-second channel: their statuses, sorted. */
  const burst = async (): Promise<number[]> => (await Promise.all(Array.from({ length: 5 }, (_, n) => timed(`/limited/${n}`)))).map((r) => r.status).sort();

  it('before the outage: the limit holds, async calls are queued and run', async () => {
    expect((await timed('/plain/1')).status).toBe(200);
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: 'serving', redis: 'up' });
    expect(await burst()).toContain(429);
    const queued = await timed('/jobs', post(1));
    expect(queued.status).toBe(202);
    const job = await eventually(() => c.api.getJob(c.cluster, String(queued.body['jobId'])), (j) => j.state === JobState.JOB_STATE_COMPLETED, 15_000);
    expect(JSON.parse(job.outputJson)).toEqual({ got: { n: 1 } });
  }, 30_000);

  it('during the outage: answers in well under a second, never a request held until Redis is back', async () => {
    relay.down();
    // The server's connections to Redis see their sockets close at once.
    await new Promise((r) => setTimeout(r, 300));

    const plain = await timed('/plain/2');
    expect(plain).toMatchObject({ status: 200, body: { got: { id: '2' } } });

    // The limiter cannot count: requests go through (a limiter outage must not take channels down).
    const started = performance.now();
    expect(await burst()).toEqual([200, 200, 200, 200, 200]);
    expect(performance.now() - started).toBeLessThan(2000);

    // An async call cannot be made durable: 503 with Retry-After at once, saying nothing was queued.
    const refused = await timed('/jobs', post(2));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/Redis is unreachable: nothing was queued/) } });
    expect(refused.ms).toBeLessThan(1000);

    // The server stays in the load balancer (sync channels need no Redis) and says what it lacks.
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'serving', redis: 'unreachable' });

    // The control plane's Invoke, InvokeAsync and GetJob: UNAVAILABLE at once, naming Redis.
    for (const call of [() => c.api.invokeAsync(c.cluster, 'out.echo', { n: 4 }), () => c.api.invoke(c.cluster, 'out.echo', { n: 5 }), () => c.api.getJob(c.cluster, 'jobs-1')]) {
      const t = performance.now();
      const err = (await call().then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: number; details?: string } | undefined;
      expect(err).toMatchObject({ code: status.UNAVAILABLE, details: expect.stringMatching(/Redis \(REDIS_URL\) is unreachable/) });
      expect(performance.now() - t).toBeLessThan(1000);
    }
  }, 30_000);

  it('after the outage: async calls are queued again and the limit holds again', async () => {
    relay.up();
    const queued = await eventually(() => timed('/jobs', post(3)), (r) => r.status === 202, 20_000);
    // The control plane reconnects on its own schedule, maybe after the server: until then GetJob is
    // UNAVAILABLE, which says to retry, as this does.
    const job = await eventually(
      () => c.api.getJob(c.cluster, String(queued.body['jobId'])).catch(() => undefined),
      (j) => j?.state === JobState.JOB_STATE_COMPLETED,
      20_000,
    );
    expect(JSON.parse(job!.outputJson)).toEqual({ got: { n: 3 } });
    await eventually(burst, (statuses) => statuses.includes(429), 10_000);
  }, 45_000);
});
