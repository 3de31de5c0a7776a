import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationJob } from './invocation-job';
import { LaneClient, type AsyncJobInfo } from './lane-client';
import { laneQueueName } from './queue-keys';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('LaneClient.listFailedPage against real Redis and real BullMQ workers', () => {
  const prefix = `lwtest-${randomBytes(4).toString('hex')}`;
  const cluster = 'failed-page';
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const client = new LaneClient({ redis: REDIS_URL, prefix });
  const workers: Worker<InvocationJob>[] = [];

  beforeAll(async () => {
    for (const lane of ['network', 'cpu'] as const) {
      const worker = new Worker<InvocationJob>(laneQueueName(cluster, lane), (job) => Promise.reject(new Error(`boom ${job.data.id}`)), {
        connection: redis.duplicate(),
        prefix,
        concurrency: 1,
      });
      workers.push(worker);
      await worker.waitUntilReady();
    }
    // 23 on the network lane, 14 on the cpu lane, two services, one attempt each: they fail at once.
    const ids: string[] = [];
    for (let n = 0; n < 37; n++) {
      const lane = n % 3 === 2 ? 'cpu' : n < 30 || n % 3 ? 'network' : 'cpu';
      ids.push(await client.invokeAsync({ cluster, lane, service: n % 2 ? 'odd' : 'even', input: { n }, attempts: 1 }));
      // Distinct failure times, so "newest first" is one order.
      await new Promise((r) => setTimeout(r, 3));
    }
    const deadline = Date.now() + 15_000;
    while ((await client.listFailed(cluster, { limit: 100 })).length < ids.length) {
      if (Date.now() > deadline) throw new Error('the jobs did not all fail in 15 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await client.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  async function walk(pageSize: number, service?: string, scanMax?: number): Promise<{ pages: AsyncJobInfo[][] }> {
    const pages: AsyncJobInfo[][] = [];
    let from: Record<'network' | 'cpu', number> | undefined;
    do {
      const page = await client.listFailedPage(cluster, { pageSize, service, from, scanMax });
      pages.push(page.jobs);
      from = page.next;
    } while (from && pages.length < 100);
    return { pages };
  }

  it('pages through both lanes newest first, every job once, in the order of the unpaged list', async () => {
    const all = await client.listFailed(cluster, { limit: 1000 });
    expect(all).toHaveLength(37);
    const { pages } = await walk(5);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 2]);
    expect(pages.flat().map((j) => j.id)).toEqual(all.map((j) => j.id));
    expect(new Set(pages.flat().map((j) => j.lane))).toEqual(new Set(['network', 'cpu']));
  });

  it('with a service filter pages only that service, and a page size of the whole list has no next page', async () => {
    const odd = (await client.listFailed(cluster, { service: 'odd', limit: 1000 })).map((j) => j.id);
    const { pages } = await walk(4, 'odd');
    expect(pages.flat().map((j) => j.id)).toEqual(odd);
    expect(pages.flat().every((j) => j.service === 'odd')).toBe(true);
    const whole = await client.listFailedPage(cluster, { pageSize: 37 });
    expect(whole.jobs).toHaveLength(37);
    expect(whole.next).toBeUndefined();
  });

  it('with a scan cut short (a rare service among many), pages are shorter but still every match once, in order', async () => {
    const even = (await client.listFailed(cluster, { service: 'even', limit: 1000 })).map((j) => j.id);
    const { pages } = await walk(5, 'even', 4);
    expect(pages.flat().map((j) => j.id)).toEqual(even);
    expect(pages.some((p) => p.length < 5 && p !== pages[pages.length - 1])).toBe(true);
    expect(Math.max(...pages.map((p) => p.length))).toBeLessThanOrEqual(5);
  });
});
