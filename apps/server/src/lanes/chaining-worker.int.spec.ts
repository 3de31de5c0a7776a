/**
 * The lane workers' own main loop against the local Redis: every job runs once, never more at a time
 * than the concurrency (with the jobs a finishing one fetched for it), a throwing processor neither
 * stops the loop nor loses a job, and pause, resume and close keep BullMQ's meaning.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ChainingWorker } from './chaining-worker';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('ChainingWorker', () => {
  const prefix = `lwchain-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const closing: (() => Promise<unknown>)[] = [];

  const setUp = (concurrency: number, handle: (job: Job<{ n: number }>) => Promise<unknown>) => {
    const name = `q${randomUUID().slice(0, 8)}`;
    const queue = new Queue<{ n: number }>(name, { connection: redis, prefix });
    const worker = new ChainingWorker<{ n: number }>(name, handle, { connection: redis, prefix, concurrency, autorun: false, runRetryDelay: 100 });
    worker.on('error', () => undefined);
    closing.push(() => worker.close(), () => queue.close());
    return { queue, worker };
  };
  const until = async (check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  afterEach(async () => {
    for (const close of closing.splice(0)) await close().catch(() => undefined);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('runs each job once, never more at a time than its concurrency, and uses all of it', async () => {
    let running = 0;
    let peak = 0;
    const seen = new Map<number, number>();
    const { queue, worker } = setUp(5, async (job) => {
      running++;
      peak = Math.max(peak, running);
      seen.set(job.data.n, (seen.get(job.data.n) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, job.data.n % 4));
      running--;
      return job.data.n;
    });
    // Queued before the worker starts (so finishing jobs fetch the next ones), then more while it runs.
    await queue.addBulk(Array.from({ length: 200 }, (_, n) => ({ name: 'j', data: { n }, opts: { removeOnComplete: true } })));
    void worker.run();
    for (let n = 200; n < 300; n++) await queue.add('j', { n }, { removeOnComplete: true });
    await until(() => seen.size === 300, '300 jobs');
    await until(async () => (await queue.getJobCounts('wait', 'active', 'completed', 'failed')).active === 0, 'no active job');
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(peak).toBe(5);
  });

  it('fails a job whose processor throws as BullMQ does, and goes on with the next ones', async () => {
    const done: number[] = [];
    const { queue, worker } = setUp(3, async (job) => {
      if (job.data.n % 10 === 0) throw new Error(`refused ${job.data.n}`);
      done.push(job.data.n);
    });
    await queue.addBulk(Array.from({ length: 50 }, (_, n) => ({ name: 'j', data: { n }, opts: { attempts: 1 } })));
    void worker.run();
    await until(async () => {
      const counts = await queue.getJobCounts('completed', 'failed');
      return (counts['completed'] ?? 0) + (counts['failed'] ?? 0) === 50;
    }, '50 finished jobs');
    const failed = await queue.getFailed();
    expect(failed.map((j) => j.data.n).sort((a, b) => a - b)).toEqual([0, 10, 20, 30, 40]);
    expect(failed[0]!.failedReason).toMatch(/^refused \d+$/);
    expect(done).toHaveLength(45);
  });

  it('pause(true) stops taking jobs while the running ones finish; resume takes them again', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: number[] = [];
    const { queue, worker } = setUp(2, async (job) => {
      started.push(job.data.n);
      if (job.data.n < 2) await gate;
    });
    await queue.addBulk([0, 1].map((n) => ({ name: 'j', data: { n } })));
    void worker.run();
    await until(() => started.length === 2, 'the two gated jobs');
    await worker.pause(true);
    await queue.addBulk([2, 3, 4].map((n) => ({ name: 'j', data: { n } })));
    release();
    await until(async () => (await queue.getJobCounts('completed')).completed === 2, 'the gated jobs to complete');
    // Paused: the jobs finishing may not fetch the next ones, and the loop fetches none.
    await new Promise((r) => setTimeout(r, 300));
    expect(started).toEqual([0, 1]);
    expect((await queue.getJobCounts('wait')).wait).toBe(3);
    await worker.resume();
    await until(async () => (await queue.getJobCounts('completed')).completed === 5, 'all five after resume');
    expect(started.slice(2).sort()).toEqual([2, 3, 4]);
  });

  it('close() waits for the running jobs and ends the loop', async () => {
    let finished = 0;
    const { queue, worker } = setUp(4, async () => {
      await new Promise((r) => setTimeout(r, 200));
      finished++;
    });
    await queue.addBulk(Array.from({ length: 4 }, (_, n) => ({ name: 'j', data: { n } })));
    const run = worker.run();
    await until(async () => (await queue.getJobCounts('active')).active === 4, 'four active jobs');
    await worker.close();
    expect(finished).toBe(4);
    await run;
    expect(worker.isRunning()).toBe(false);
    expect((await queue.getJobCounts('completed')).completed).toBe(4);
  });
});
