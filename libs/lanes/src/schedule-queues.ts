import { Queue, type JobSchedulerJson, type JobsOptions } from 'bullmq';
import { isDeepStrictEqual } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { ServiceLane } from '@laneway/sdk';
import type { InvocationJob, ScheduleMark } from './invocation-job';
import { DEFAULT_QUEUE_PREFIX, laneQueueName, scheduleSchedulerId } from './queue-keys';
import { createRedis, type RedisClient } from './create-redis';
import type { RedisSettings } from './redis-settings';
import { clearScheduleRuns, listScheduleRuns, type ScheduleRunRecord } from './schedule-runs';

/** When a schedule ticks: every `everyMs`, or on a cron expression in a time zone. */
export type ScheduleTiming = { everyMs: number } | { cron: string; timezone: string };

/** What every run of a schedule invokes, and how. */
export interface ScheduledInvocation {
  service: string;
  lane: ServiceLane;
  input: unknown;
  overlap: ScheduleMark['overlap'];
  /** The service's `attempts` policy (0 = 3). */
  attempts: number;
}

const LANES: readonly ServiceLane[] = ['network', 'cpu'];
const SCHEDULER_PREFIX = scheduleSchedulerId('');
const BACKOFF_MS = 1000;
// Kept like async invocations (GetJob finds a recent run). A failed run is not kept as a dead letter:
// its schedule's run list records it, and a failing schedule must not pile up one job per tick.
const JOB_OPTIONS = { removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: true } as const;

/**
 * The control plane's side of schedules: one BullMQ job scheduler per schedule on its service's lane
 * queue. BullMQ adds a tick's job when the previous one starts, so whichever server takes it, every
 * tick runs once, and a cluster that was down finds one due job, not one per missed tick.
 */
export class ScheduleQueues {
  private readonly connection: RedisClient;
  private readonly queues = new Map<string, Queue>();
  readonly prefix: string;

  /** `redis`: a Redis URL, or Laneway's Redis settings in any mode. */
  constructor(options: { redis: string | RedisSettings; prefix?: string }) {
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.connection = createRedis(typeof options.redis === 'string' ? { mode: 'single', url: options.redis } : options.redis);
  }

  /**
   * Starts or updates the schedule's ticks. An interval schedule's first tick is one interval from now
   * (an update that keeps the interval keeps the pending tick's time).
   */
  async upsert(cluster: string, name: string, timing: ScheduleTiming, invocation: ScheduledInvocation, firstTickAt?: number): Promise<void> {
    const id = scheduleSchedulerId(name);
    // A service redeployed on the other lane moves its schedules with the next update.
    for (const lane of LANES) if (lane !== invocation.lane) await this.queue(cluster, lane).removeJobScheduler(id);
    const repeat =
      'everyMs' in timing
        ? { every: timing.everyMs, startDate: firstTickAt ?? Date.now() + timing.everyMs }
        : { pattern: timing.cron, tz: timing.timezone || 'UTC' };
    await this.queue(cluster, invocation.lane).upsertJobScheduler(id, repeat, {
      name: invocation.service,
      data: jobData(name, invocation),
      opts: { ...JOB_OPTIONS, attempts: invocation.attempts || 3, backoff: { type: 'exponential', delay: BACKOFF_MS } },
    });
  }

  /**
   * The job schedulers of the cluster's schedules in Redis (both lane queues, one listing each), by
   * schedule name, with what each holds: what {@link schedulerMatches} compares.
   */
  async scheduled(cluster: string): Promise<Map<string, FoundScheduler[]>> {
    const found = new Map<string, FoundScheduler[]>();
    for (const lane of LANES) {
      for (const scheduler of await this.queue(cluster, lane).getJobSchedulers(0, -1)) {
        const id = scheduler.id ?? scheduler.key;
        if (!id.startsWith(SCHEDULER_PREFIX)) continue;
        const name = id.slice(SCHEDULER_PREFIX.length);
        found.set(name, [...(found.get(name) ?? []), { lane, scheduler }]);
      }
    }
    return found;
  }

  /** Stops the ticks (pause, delete); a run under way finishes. */
  async remove(cluster: string, name: string): Promise<void> {
    const id = scheduleSchedulerId(name);
    for (const lane of LANES) await this.queue(cluster, lane).removeJobScheduler(id);
  }

  /**
   * Stops the schedule's ticks here for a planned switchover and says where they stand: `next`, the
   * due time of the tick the scheduler had pending (undefined when none), and whether that tick still
   * runs here. Removing a job scheduler takes its pending job with it while the job is still delayed,
   * and on a busy site a tick can be past due and still delayed (not yet promoted): that tick then
   * never runs here, and the new source must run it. A tick already promoted (waiting, active, done)
   * stays and runs here.
   */
  async stopForHandOver(cluster: string, name: string): Promise<{ next: number | undefined; nextRunsHere: boolean }> {
    const id = scheduleSchedulerId(name);
    let found: { next: number; lane: ServiceLane } | undefined;
    for (const lane of LANES) {
      const scheduler = await this.queue(cluster, lane).getJobScheduler(id);
      if (scheduler?.next !== undefined) {
        found = { next: Number(scheduler.next), lane };
        break;
      }
    }
    await this.remove(cluster, name);
    if (!found) return { next: undefined, nextRunsHere: false };
    // The tick's job id is `repeat:<scheduler>:<due ms>` (see jobData).
    const job = await this.queue(cluster, found.lane).getJob(`repeat:${id}:${found.next}`);
    return { next: found.next, nextRunsHere: job !== undefined };
  }

  /** Epoch ms of the next tick, or undefined when none is scheduled (paused). */
  async next(cluster: string, name: string): Promise<number | undefined> {
    const id = scheduleSchedulerId(name);
    for (const lane of LANES) {
      const scheduler = await this.queue(cluster, lane).getJobScheduler(id);
      if (scheduler?.next !== undefined) return Number(scheduler.next);
    }
    return undefined;
  }

  /** Queues one run now, like a tick; returns its job id. */
  async runNow(cluster: string, name: string, invocation: ScheduledInvocation): Promise<string> {
    const jobId = `${scheduleSchedulerId(name)}.now.${Date.now()}.${randomBytes(4).toString('hex')}`;
    const data = jobData(name, invocation);
    data.sch = { ...data.sch!, manual: true };
    const options: JobsOptions = { ...JOB_OPTIONS, jobId, attempts: invocation.attempts || 3, backoff: { type: 'exponential', delay: BACKOFF_MS } };
    await this.queue(cluster, invocation.lane).add(invocation.service, data, options);
    return jobId;
  }

  /**
   * Queues the one tick that was due at `dueMs` (a tick another site handed over and did not run): a
   * scheduled run, recorded with that due time, whose job id is the tick's own so it is queued once.
   */
  async runTick(cluster: string, name: string, invocation: ScheduledInvocation, dueMs: number): Promise<string> {
    // `handover:<scheduler>:<due ms>`: BullMQ refuses a custom id with a colon unless it has exactly
    // two (as its own `repeat:<scheduler>:<due>`), and the server reads the due time after the last one.
    // The id this had before (`<scheduler>.handover:<due>`) was refused, so every handed-over tick
    // failed the resume, which then armed the schedule afresh: that tick lost, the rest off the grid.
    const jobId = `handover:${scheduleSchedulerId(name)}:${Math.trunc(dueMs)}`;
    const options: JobsOptions = { ...JOB_OPTIONS, jobId, attempts: invocation.attempts || 3, backoff: { type: 'exponential', delay: BACKOFF_MS } };
    await this.queue(cluster, invocation.lane).add(invocation.service, jobData(name, invocation), options);
    return jobId;
  }

  runs(cluster: string, name: string, limit: number): Promise<ScheduleRunRecord[]> {
    return listScheduleRuns(this.connection, this.prefix, cluster, name, limit);
  }

  clearRuns(cluster: string, name: string): Promise<void> {
    return clearScheduleRuns(this.connection, this.prefix, cluster, name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.connection.quit().catch(() => undefined);
  }

  private queue(cluster: string, lane: ServiceLane): Queue {
    const name = laneQueueName(cluster, lane);
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }
}

/** A schedule's job scheduler as {@link ScheduleQueues.scheduled} found it, and the lane queue it is on. */
export interface FoundScheduler {
  lane: ServiceLane;
  scheduler: JobSchedulerJson;
}

/**
 * Whether what Redis holds for a schedule (`found`, from `scheduled`) is what `upsert(timing,
 * invocation)` would set: one job scheduler, on the invocation's lane queue, with its timing, service,
 * input, overlap and attempts. False when Redis lost it (Redis keeps nothing on disk), when the
 * service moved to the other lane, or when a call stopped half-way; `upsert` then repairs it.
 */
export function schedulerMatches(found: readonly FoundScheduler[] | undefined, name: string, timing: ScheduleTiming, invocation: ScheduledInvocation): boolean {
  return found?.length === 1 && found[0]!.lane === invocation.lane && sameScheduler(found[0]!.scheduler, timing, jobData(name, invocation), invocation);
}

function sameScheduler(scheduler: JobSchedulerJson, timing: ScheduleTiming, data: InvocationJob, invocation: ScheduledInvocation): boolean {
  const timed = 'everyMs' in timing ? Number(scheduler.every) === timing.everyMs && !scheduler.pattern : scheduler.pattern === timing.cron && (scheduler.tz ?? 'UTC') === (timing.timezone || 'UTC');
  return (
    timed &&
    scheduler.name === invocation.service &&
    // As stored: JSON, so an undefined field is no field.
    isDeepStrictEqual(scheduler.template?.data, JSON.parse(JSON.stringify(data))) &&
    Number(scheduler.template?.opts?.attempts) === (invocation.attempts || 3)
  );
}

// The job id of each tick (`repeat:<scheduler>:<due ms>`) is the run's invocation id: the server
// sets `id` from it.
function jobData(name: string, invocation: ScheduledInvocation): InvocationJob {
  return { s: invocation.service, i: invocation.input ?? null, id: '', sch: { name, overlap: invocation.overlap } };
}
