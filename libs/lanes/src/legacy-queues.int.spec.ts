import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { carryOverLegacyQueues, legacyLaneQueueName, legacyScheduleKeys, watchLegacyQueues } from './legacy-queues';
import { laneQueueName, scheduleKeys } from './queue-keys';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('carry-over of the old-named lane queues against real Redis', () => {
  const prefix = `lwtest-legacy-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const other = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const old = new Queue(legacyLaneQueueName('c', 'network'), { connection: redis, prefix });
  const fresh = new Queue(laneQueueName('c', 'network'), { connection: redis, prefix });
  afterAll(async () => {
    await Promise.all([old.close(), fresh.close()]);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await Promise.all([redis.quit(), other.quit()]);
  });

  it('moves waiting, prioritized, delayed, retrying, stalled and failed jobs once, even from two servers at once, and drops the old schedulers', async () => {
    // A failed job (dead letter) and one failed once, in its backoff: made by a worker of the old version.
    await old.add('svc', { n: 'f1' }, { jobId: 'f1', attempts: 1 });
    await old.add('svc', { n: 'r1' }, { jobId: 'r1', attempts: 3, backoff: { type: 'fixed', delay: 300 } });
    let oldFailures = 0;
    const oldWorker = new Worker(
      old.name,
      async () => {
        throw new Error('boom');
      },
      { connection: redis.duplicate(), prefix },
    );
    oldWorker.on('failed', () => oldFailures++);
    await waitFor(() => oldFailures === 2);
    await oldWorker.close();
    await oldWorker.disconnect();
    const waiting = ['w1', 'w2', 'w3'];
    for (const id of waiting) await old.add('svc', { n: id }, { jobId: id, attempts: 2 });
    // Active on an old server: one whose lock is held (running there: left alone), one whose lock expired
    // (the server died; nothing on the old queue would put it back).
    for (const id of ['a1', 's1']) {
      await old.add('svc', { n: id }, { jobId: id });
      await redis.lrem(old.keys.wait!, 0, id);
      await redis.lpush(old.keys.active!, id);
    }
    await redis.set(`${old.toKey('a1')}:lock`, 'old-server-token', 'PX', 10_000);
    await old.add('svc', { n: 'p1' }, { jobId: 'p1', priority: 1 });
    await old.add('svc', { n: 'p2' }, { jobId: 'p2', priority: 2 });
    await old.add('svc', { n: 'd1' }, { jobId: 'd1', delay: 400 });
    await old.add('svc', { n: 'd2' }, { jobId: 'd2', delay: 500 });
    await old.upsertJobScheduler('schedule.s', { every: 60_000, startDate: Date.now() + 60_000 }, { name: 'svc', data: { n: 'tick' } });
    const legacyRuns = legacyScheduleKeys(prefix, 'c', 's');
    await redis.zadd(legacyRuns.runs, 1000, 'repeat:schedule.s:1000');
    await redis.hset(legacyRuns.run, 'repeat:schedule.s:1000', '{"outcome":"ok"}');
    const oldD1 = (await old.getJob('d1'))!;
    const oldR1 = (await old.getJob('r1'))!;
    expect(await old.getJobCounts('wait', 'active', 'prioritized', 'delayed', 'failed')).toEqual({ wait: 3, active: 2, prioritized: 2, delayed: 3 + 1, failed: 1 });

    const lines: object[] = [];
    const logger = { info: (fields: object) => lines.push(fields) };
    const started = performance.now();
    const [a, b] = await Promise.all([
      carryOverLegacyQueues({ redis, prefix, cluster: 'c', logger }),
      carryOverLegacyQueues({ redis: other, prefix, cluster: 'c', logger }),
    ]);
    const tookMs = performance.now() - started;
    const runs = [...a!, ...b!];
    // One of the two held the lane; together they carried each job once.
    expect(runs.reduce((n, r) => n + r.carried, 0)).toBe(9);
    expect(runs.reduce((n, r) => n + r.failedMoved, 0)).toBe(1);
    expect(runs.reduce((n, r) => n + r.schedulersRemoved, 0)).toBe(1);
    expect(runs.reduce((n, r) => n + r.historiesRenamed, 0)).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ lane: 'network', carried: 9, failedMoved: 1, from: 'c.network', to: '{c.network}' })]);
    expect(tookMs).toBeLessThan(2000);

    // Old queue: nothing left but the job running on an old server (the scheduler's tick is dropped).
    expect(await old.getJobCounts('wait', 'active', 'prioritized', 'delayed', 'failed')).toEqual({ wait: 0, active: 1, prioritized: 0, delayed: 0, failed: 0 });
    expect((await old.getJob('a1'))?.data).toEqual({ n: 'a1' });
    expect(await fresh.getJob('a1')).toBeUndefined();
    expect(await old.getJobSchedulers(0, -1)).toEqual([]);
    expect(await old.getJob('w1')).toBeUndefined();
    // New queue: each job once, with its data; the tick is not carried (the new scheduler makes its own).
    expect(await fresh.getJobCounts('wait', 'prioritized', 'delayed', 'failed')).toEqual({ wait: 4, prioritized: 2, delayed: 3, failed: 1 });
    for (const id of [...waiting, 's1', 'p1', 'p2', 'd1', 'd2', 'r1', 'f1']) expect((await fresh.getJob(id))?.data).toEqual({ n: id });
    expect((await fresh.getJobs(['delayed'])).map((j) => j.id).sort()).toEqual(['d1', 'd2', 'r1']);
    const d1 = (await fresh.getJob('d1'))!;
    // Due when it was due, created when it was created.
    expect(d1.timestamp).toBe(oldD1.timestamp);
    expect(d1.timestamp + d1.delay).toBe(oldD1.timestamp + 400);
    // The retrying job keeps what is left of its attempts; the failed one stays failed with its reason.
    expect(oldR1.attemptsMade).toBe(1);
    expect((await fresh.getJob('r1'))!.opts.attempts).toBe(2);
    expect((await fresh.getJob('p2'))!.opts.priority).toBe(2);
    const f1 = (await fresh.getJob('f1'))!;
    expect([await f1.getState(), f1.failedReason, f1.attemptsMade]).toEqual(['failed', 'boom', 1]);
    const newRuns = scheduleKeys(prefix, 'c', 's');
    expect(await redis.zrange(newRuns.runs, 0, -1)).toEqual(['repeat:schedule.s:1000']);
    expect(await redis.exists(legacyRuns.runs, legacyRuns.run)).toBe(0);

    // Nothing more to carry while the old server runs its job: no line; once it is done, not even a look.
    expect((await carryOverLegacyQueues({ redis, prefix, cluster: 'c', logger })).map((r) => r.carried)).toEqual([0]);
    await redis.del(old.keys.active!);
    expect(await carryOverLegacyQueues({ redis, prefix, cluster: 'c', logger })).toEqual([]);
    expect(lines).toHaveLength(1);

    // A worker of the new version runs every carried job once.
    const ran: string[] = [];
    const worker = new Worker(
      fresh.name,
      async (job: Job) => {
        ran.push(job.id!);
      },
      { connection: redis.duplicate(), prefix },
    );
    await waitFor(() => ran.length >= 9);
    await new Promise((r) => setTimeout(r, 100));
    await worker.close();
    await worker.disconnect();
    expect(ran.sort()).toEqual(['d1', 'd2', 'p1', 'p2', 'r1', 's1', 'w1', 'w2', 'w3']);
  }, 5000);

  it('keeps carrying while it runs: a job an old server queues later is carried by the next round', async () => {
    const warnings: object[] = [];
    const stop = watchLegacyQueues({ redis, prefix, cluster: 'c', logger: { info: () => undefined, warn: (fields) => warnings.push(fields) } }, 50);
    await new Promise((r) => setTimeout(r, 20));
    await old.add('svc', { n: 'late' }, { jobId: 'late' });
    const until = Date.now() + 2000;
    while (!(await fresh.getJob('late')) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await stop();
    expect((await fresh.getJob('late'))?.data).toEqual({ n: 'late' });
    expect(await old.getJob('late')).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('leaves a failed job whose id the new queue holds too, and says so', async () => {
    await fresh.add('svc', { n: 'new' }, { jobId: 'clash' });
    await old.add('svc', { n: 'old' }, { jobId: 'clash' });
    await redis.lrem(old.keys.wait!, 0, 'clash');
    await redis.zadd(old.keys.failed!, Date.now(), 'clash');
    const [result] = await carryOverLegacyQueues({ redis, prefix, cluster: 'c' });
    expect(result).toMatchObject({ lane: 'network', carried: 0, failedMoved: 0, failedLeft: 1 });
    expect((await fresh.getJob('clash'))?.data).toEqual({ n: 'new' });
    expect((await old.getJob('clash'))?.data).toEqual({ n: 'old' });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
