import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceInvocationError } from '@laneway/sdk';
import type { InvocationJob } from './invocation-job';
import { LaneClient } from './lane-client';
import { laneQueueName } from './queue-keys';
import { ReplyPublisher } from './reply-publisher';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('LaneClient against real Redis and a real BullMQ worker', () => {
  const prefix = `lwtest-${randomBytes(4).toString('hex')}`;
  const cluster = 'lanes-spec';
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const client = new LaneClient({ redis: REDIS_URL, prefix });
  let worker: Worker<InvocationJob>;
  // As on a server: replies that finish in one turn go out together.
  const replies = new ReplyPublisher(redis);

  beforeAll(async () => {
    worker = new Worker<InvocationJob>(
      laneQueueName(cluster, 'network'),
      async (job) => {
        const data = job.data;
        if (data.s === 'echo') {
          // Random delay so replies come back out of order.
          await new Promise((r) => setTimeout(r, Math.random() * 20));
          await replies.send(data, { c: data.c!, ok: true, o: data.i, srv: 'w1', v: 'v1' });
        } else if (data.s === 'fail') {
          await replies.send(data, {
            c: data.c!,
            ok: false,
            e: { code: 'SERVICE_FAILED', message: "service 'fail' threw: nope" },
            srv: 'w1',
          });
        }
        // 'silent' never replies.
      },
      { connection: redis.duplicate(), prefix, concurrency: 100 },
    );
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    await worker.close();
    await client.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('routes 500 concurrent replies to their own callers', async () => {
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, n) =>
        client.invoke({ cluster, lane: 'network', service: 'echo', input: { n } }),
      ),
    );
    results.forEach((result, n) => {
      expect(result.output).toEqual({ n });
      expect(result.server).toBe('w1');
    });
    expect(client.inFlight).toBe(0);
  });

  it('routes replies the same way when invocations are batched with addBulk', async () => {
    const batched = new LaneClient({ redis: REDIS_URL, prefix, batch: true });
    try {
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, n) => batched.invoke({ cluster, lane: 'network', service: 'echo', input: { n } })),
      );
      results.forEach((result, n) => expect(result.output).toEqual({ n }));
    } finally {
      await batched.close();
    }
  });

  it('turns an error reply into a ServiceInvocationError', async () => {
    await expect(client.invoke({ cluster, lane: 'network', service: 'fail', input: null })).rejects.toMatchObject({
      code: 'SERVICE_FAILED',
      message: "service 'fail' threw: nope",
    });
  });

  it('times out naming the service and the time waited', async () => {
    const err = await client
      .invoke({ cluster, lane: 'network', service: 'silent', input: null, timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceInvocationError);
    expect(err).toMatchObject({ code: 'DEADLINE_EXCEEDED', message: "service 'silent' did not answer within 200 ms" });
    expect(client.inFlight).toBe(0);
  });

  it('queues async invocations as durable jobs with retries', async () => {
    const id = await client.invokeAsync({ cluster, lane: 'cpu', service: 'later', input: { a: 1 } });
    const raw = await redis.hgetall(`${prefix}:${laneQueueName(cluster, 'cpu')}:${id}`);
    expect(JSON.parse(raw['data']!)).toMatchObject({ s: 'later', i: { a: 1 } });
    expect(JSON.parse(raw['opts']!)).toMatchObject({ attempts: 3, backoff: { type: 'exponential', delay: 1000 } });
  });

  it('never reports a completed async job without its output', async () => {
    const asyncWorker = new Worker<InvocationJob>(
      laneQueueName(cluster, 'cpu'),
      async (job) => {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return { doubled: (job.data.i as { n: number }).n * 2 };
      },
      { connection: redis.duplicate(), prefix, concurrency: 50 },
    );
    try {
      const ids = await Promise.all(Array.from({ length: 100 }, (_, n) => client.invokeAsync({ cluster, lane: 'cpu', service: 'double', input: { n } })));
      await Promise.all(
        ids.map(async (id, n) => {
          for (;;) {
            const job = await client.getJob(cluster, id);
            if (job?.state === 'completed') {
              expect(job.output).toEqual({ doubled: 2 * n });
              expect(job.finishedAt).toBeGreaterThan(0);
              return;
            }
          }
        }),
      );
    } finally {
      await asyncWorker.close();
    }
  });

  it('sends the first reply of a turn at once and the rest of that turn as one message', async () => {
    const channel = `${prefix}:reply:batch-spec`;
    const subscriber = redis.duplicate();
    const messages: unknown[] = [];
    subscriber.on('message', (_c: string, m: string) => messages.push(JSON.parse(m)));
    await subscriber.subscribe(channel);
    try {
      const job = (c: string): InvocationJob => ({ s: 'x', i: null, r: channel, c, id: c });
      const reply = (c: string) => ({ c, ok: true as const, o: c, srv: 'w1', v: 'v1' });
      // Four replies in one turn, then a lone one in a later turn.
      await Promise.all(['1', '2', '3', '4'].map((c) => replies.send(job(c), reply(c))));
      await replies.send(job('5'), reply('5'));
      // Async jobs have no reply address: nothing is sent.
      await replies.send({ s: 'x', i: null, id: 'a1' }, reply('a1'));
      await new Promise((r) => setTimeout(r, 100));
      expect(messages).toEqual([reply('1'), [reply('2'), reply('3'), reply('4')], reply('5')]);
    } finally {
      await subscriber.quit();
    }
  });
});
