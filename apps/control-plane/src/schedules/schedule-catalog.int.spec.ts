import { ScheduleOverlap, WaitFor } from '@laneway/proto';
import { laneQueueName, scheduleSchedulerId, ScheduleQueues, type InvocationJob } from '@laneway/lanes';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../auth/authenticator';
import { CompilerPool } from '../deploy/compiler-pool';
import { DeployPipeline } from '../deploy/deploy-pipeline';
import { SyncHub } from '../sync/sync-hub';
import { compileWorkerBundle } from '../testing/compile-worker-bundle';
import { openTempStore, type TempStore } from '../testing/temp-store';
import { ScheduleCatalog } from './schedule-catalog';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const NO_WAIT = { waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 };
const logger = pino({ level: 'silent' });

// The new source's side of a planned switchover: the hold between its promotion and the resume (the
// periodic check, reconcileCluster, must not arm the schedules afresh meanwhile), and a resume from a
// tick already past due (its job id was once refused by BullMQ, which armed the schedule afresh: that
// tick lost, the next ones off the old grid).
describe('ScheduleCatalog across a planned switchover', () => {
  const prefix = `lwschcat-${randomBytes(4).toString('hex')}`;
  const cluster = 'hold';
  let temp: TempStore;
  let hub: SyncHub;
  let compiler: CompilerPool;
  let queues: ScheduleQueues;
  let catalog: ScheduleCatalog;

  beforeAll(async () => {
    temp = await openTempStore('schedule-catalog');
    hub = new SyncHub({ store: temp.store, auth: new Authenticator(`lwa_${randomBytes(12).toString('hex')}`, temp.store), logger });
    compiler = new CompilerPool({ workerPath: await compileWorkerBundle(), size: 1, maxHeapMb: 256, loadTimeoutMs: 2000, logger });
    await compiler.start();
    await temp.store.createCluster(cluster);
    const content = "import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'hold.tick', lane: 'network', handle: (): string => 'ok' });\n";
    await new DeployPipeline(temp.store, hub, logger, compiler).deploy(cluster, [{ path: 'hold/tick.ts', content }], NO_WAIT);
    queues = new ScheduleQueues({ redis: REDIS_URL, prefix });
    catalog = new ScheduleCatalog(temp.store, hub, queues, logger);
    await catalog.create(cluster, { name: 'tick', service: 'hold.tick', inputJson: '', intervalMs: 60_000, cron: '', timezone: '', overlap: ScheduleOverlap.SCHEDULE_OVERLAP_SKIP }, NO_WAIT);
  });

  afterAll(async () => {
    await queues?.close();
    hub?.shutdown();
    await compiler?.close();
    await temp?.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('leaves a held cluster\'s job schedulers alone until every hold is released, then repairs them', async () => {
    expect(await queues.next(cluster, 'tick')).toBeGreaterThan(Date.now());
    // What a just-promoted site holds: the schedule stored, no job scheduler in its Redis yet.
    await queues.remove(cluster, 'tick');
    expect(await queues.next(cluster, 'tick')).toBeUndefined();

    const first = catalog.hold(cluster);
    const second = catalog.hold(cluster);
    expect(await catalog.reconcileCluster(cluster)).toEqual({ repaired: [], removed: [], failed: [] });
    expect(await queues.next(cluster, 'tick')).toBeUndefined();
    first();
    first();
    // One hold is left (releasing the first twice counts once).
    expect((await catalog.reconcileCluster(cluster)).repaired).toEqual([]);
    expect(await queues.next(cluster, 'tick')).toBeUndefined();

    second();
    expect((await catalog.reconcileCluster(cluster)).repaired).toEqual(['tick']);
    expect(await queues.next(cluster, 'tick')).toBeGreaterThan(Date.now());
  });

  it('resumes from a cursor already past due: that tick is queued once with its due time, the next ones stay on its grid', async () => {
    await queues.remove(cluster, 'tick');
    // A handover slower than the time to the next tick: the old source's cursor is past due here.
    const due = Date.now() - 500;
    await catalog.resume(cluster, [{ name: 'tick', nextDueMs: due }]);
    const lane = new Queue<InvocationJob>(laneQueueName(cluster, 'network'), { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix });
    try {
      const job = await lane.getJob(`handover:${scheduleSchedulerId('tick')}:${due}`);
      expect(job?.data).toMatchObject({ s: 'hold.tick', sch: { name: 'tick' } });
      expect(job?.data.sch?.manual).toBeUndefined();
    } finally {
      await lane.close();
      await lane.disconnect();
    }
    // On the old grid (not armed afresh from now): one interval after the handed-over tick.
    expect(await queues.next(cluster, 'tick')).toBe(due + 60_000);
  });
});
