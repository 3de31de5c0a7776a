import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { schedulerMatches, ScheduleQueues, type ScheduledInvocation, type ScheduleTiming } from './schedule-queues';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('ScheduleQueues: what is in Redis compared with what a schedule calls for (real Redis)', () => {
  const prefix = `lwtest-schedq-${randomBytes(4).toString('hex')}`;
  const queues = new ScheduleQueues({ redis: REDIS_URL, prefix });
  const every: ScheduleTiming = { everyMs: 60_000 };
  const cron: ScheduleTiming = { cron: '0 3 * * *', timezone: 'Europe/Warsaw' };
  const invocation: ScheduledInvocation = { service: 'crm.sync', lane: 'network', input: { full: true }, overlap: 'skip', attempts: 0 };

  /** What `scheduled` finds for one schedule, compared as the control plane does. */
  const matches = async (name: string, timing: ScheduleTiming, wanted: ScheduledInvocation): Promise<boolean> =>
    schedulerMatches((await queues.scheduled('c')).get(name), name, timing, wanted);
  const names = async (): Promise<Set<string>> => new Set((await queues.scheduled('c')).keys());

  afterAll(async () => {
    await queues.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('matches only the job scheduler upsert set: same lane, timing, service, input and attempts', async () => {
    expect(await names()).toEqual(new Set());
    expect(await matches('nightly', every, invocation)).toBe(false);

    await queues.upsert('c', 'nightly', every, invocation);
    expect(await names()).toEqual(new Set(['nightly']));
    expect(await matches('nightly', every, invocation)).toBe(true);

    expect(await matches('nightly', { everyMs: 30_000 }, invocation)).toBe(false);
    expect(await matches('nightly', cron, invocation)).toBe(false);
    expect(await matches('nightly', every, { ...invocation, lane: 'cpu' })).toBe(false);
    expect(await matches('nightly', every, { ...invocation, service: 'crm.other' })).toBe(false);
    expect(await matches('nightly', every, { ...invocation, input: { full: false } })).toBe(false);
    expect(await matches('nightly', every, { ...invocation, overlap: 'allow' })).toBe(false);
    // attempts 0 means the default, 3.
    expect(await matches('nightly', every, { ...invocation, attempts: 3 })).toBe(true);
    expect(await matches('nightly', every, { ...invocation, attempts: 5 })).toBe(false);
  });

  it('matches a cron schedule by expression and time zone, and no longer once it is on both lanes or removed', async () => {
    await queues.upsert('c', 'report', cron, { ...invocation, lane: 'cpu', input: null });
    expect(await matches('report', cron, { ...invocation, lane: 'cpu', input: null })).toBe(true);
    expect(await matches('report', { ...cron, timezone: 'UTC' }, { ...invocation, lane: 'cpu', input: null })).toBe(false);
    expect(await matches('report', cron, { ...invocation, lane: 'network', input: null })).toBe(false);

    // Moved to the network lane: upsert takes it off the CPU lane's queue.
    await queues.upsert('c', 'report', cron, { ...invocation, lane: 'network', input: null });
    expect(await matches('report', cron, { ...invocation, lane: 'network', input: null })).toBe(true);
    expect(await names()).toEqual(new Set(['nightly', 'report']));

    await queues.remove('c', 'report');
    expect(await matches('report', cron, { ...invocation, lane: 'network', input: null })).toBe(false);
    expect(await names()).toEqual(new Set(['nightly']));
  });

  it('on a hand-over, says a past-due tick still delayed does not run here (the removal took it) and one already queued does', async () => {
    const { Queue } = await import('bullmq');
    const { laneQueueName } = await import('./queue-keys');
    const raw = new Queue(laneQueueName('h', 'network'), { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix });
    try {
      // No worker runs here, so nothing promotes the tick: past due, it is still delayed, as on a busy site.
      const dueAt = Date.now() + 150;
      await queues.upsert('h', 'late', { everyMs: 60_000 }, invocation, dueAt);
      await new Promise((r) => setTimeout(r, 250));
      const late = await queues.stopForHandOver('h', 'late');
      expect(late).toEqual({ next: dueAt, nextRunsHere: false });
      expect(await raw.getJob(`repeat:schedule.late:${dueAt}`)).toBeUndefined();

      // Promoted to waiting before the hand-over: it stays and runs here.
      const soonAt = Date.now() + 60_000;
      await queues.upsert('h', 'queued', { everyMs: 60_000 }, invocation, soonAt);
      await (await raw.getJob(`repeat:schedule.queued:${soonAt}`))!.promote();
      const queued = await queues.stopForHandOver('h', 'queued');
      expect(queued).toEqual({ next: soonAt, nextRunsHere: true });
      expect(await (await raw.getJob(`repeat:schedule.queued:${soonAt}`))!.getState()).toBe('waiting');

      expect(await queues.stopForHandOver('h', 'none')).toEqual({ next: undefined, nextRunsHere: false });
    } finally {
      await raw.close();
      await raw.disconnect();
    }
  });
});
