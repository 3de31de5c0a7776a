import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { scheduleKeys } from './queue-keys';
import {
  acquireScheduleLock,
  clearScheduleRuns,
  listScheduleRuns,
  recordScheduleRun,
  releaseScheduleLock,
  SCHEDULE_RUNS_KEPT,
  type ScheduleRunRecord,
} from './schedule-runs';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('schedule run lists and overlap locks against real Redis', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = `lwtest-schedruns-${randomBytes(4).toString('hex')}`;
  const run = (n: number, extra: Partial<ScheduleRunRecord> = {}): ScheduleRunRecord => ({
    jobId: `repeat:schedule.s:${1000 * n}`,
    scheduledAt: 1000 * n,
    startedAt: 1000 * n + 5,
    server: 's1',
    outcome: 'ok',
    durationMs: 3,
    attempt: 1,
    ...extra,
  });
  afterAll(async () => {
    await clearScheduleRuns(redis, prefix, 'c', 's');
    await redis.quit();
  });

  it('keeps one entry per job id, newest first, and only the last ones', async () => {
    await recordScheduleRun(redis, prefix, 'c', 's', run(1));
    await recordScheduleRun(redis, prefix, 'c', 's', run(2, { outcome: 'failed', attempt: 1 }));
    // The same run recorded again (its server died after recording): still one entry, the later one.
    await recordScheduleRun(redis, prefix, 'c', 's', run(2, { outcome: 'ok', attempt: 2, server: 's2' }));
    const runs = await listScheduleRuns(redis, prefix, 'c', 's', 10);
    expect(runs.map((r) => [r.jobId, r.outcome, r.server, r.attempt])).toEqual([
      ['repeat:schedule.s:2000', 'ok', 's2', 2],
      ['repeat:schedule.s:1000', 'ok', 's1', 1],
    ]);
    expect(await listScheduleRuns(redis, prefix, 'c', 's', 1)).toHaveLength(1);
    expect(await listScheduleRuns(redis, prefix, 'c', 'other', 10)).toEqual([]);

    for (let n = 3; n < SCHEDULE_RUNS_KEPT + 10; n++) await recordScheduleRun(redis, prefix, 'c', 's', run(n));
    const keys = scheduleKeys(prefix, 'c', 's');
    expect(await redis.zcard(keys.runs)).toBe(SCHEDULE_RUNS_KEPT);
    expect(await redis.hlen(keys.run)).toBe(SCHEDULE_RUNS_KEPT);
    const kept = await listScheduleRuns(redis, prefix, 'c', 's', SCHEDULE_RUNS_KEPT);
    expect(kept[0]!.jobId).toBe(`repeat:schedule.s:${1000 * (SCHEDULE_RUNS_KEPT + 9)}`);
    expect(kept.at(-1)!.jobId).toBe(`repeat:schedule.s:${1000 * 10}`);
    expect(await redis.pttl(keys.runs)).toBeGreaterThan(0);

    await clearScheduleRuns(redis, prefix, 'c', 's');
    expect(await listScheduleRuns(redis, prefix, 'c', 's', 10)).toEqual([]);
  });

  it('lets one run hold the lock, the same run take it again, and nobody else until it is released or expires', async () => {
    expect(await acquireScheduleLock(redis, prefix, 'c', 'l', 'job-1', 10_000)).toBe(true);
    expect(await acquireScheduleLock(redis, prefix, 'c', 'l', 'job-2', 10_000)).toBe(false);
    // A retry, or a take-over of job-1 after its server died: the same holder.
    expect(await acquireScheduleLock(redis, prefix, 'c', 'l', 'job-1', 10_000)).toBe(true);
    // Releasing someone else's lock does nothing.
    await releaseScheduleLock(redis, prefix, 'c', 'l', 'job-2');
    expect(await acquireScheduleLock(redis, prefix, 'c', 'l', 'job-2', 10_000)).toBe(false);
    await releaseScheduleLock(redis, prefix, 'c', 'l', 'job-1');
    expect(await acquireScheduleLock(redis, prefix, 'c', 'l', 'job-2', 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(await acquireScheduleLock(redis, prefix, 'c', 'l', 'job-3', 10_000)).toBe(true);
    await redis.del(scheduleKeys(prefix, 'c', 'l').lock);
  });
});
