import { UnrecoverableError, type Job } from 'bullmq';
import {
  acquireScheduleLock,
  recordScheduleRun,
  releaseScheduleLock,
  type InvocationJob,
  type InvocationReply,
  type RedisClient,
  type ScheduleMark,
  type ScheduleRunRecord,
} from '@laneway/lanes';
import type { Logger } from 'pino';
import { asyncFailure } from './async-failure';

export interface ScheduleRunnerOptions {
  cluster: string;
  prefix: string;
  server: string;
  /** A plain (non-blocking) connection. */
  redis: RedisClient;
  /** The BullMQ job lock: a dead server's run is taken over within about twice this. */
  lockMs: number;
  logger: Logger;
}

/** A tick's job id is `repeat:<scheduler>:<due epoch ms>`. */
const TICK_ID = /:(\d+)$/;

/**
 * The server's part of schedules (BullMQ fires the ticks): a run of a SKIP schedule holds the
 * schedule's lock while it runs, so a tick that finds it held completes at once as skipped; and every
 * run is recorded in the schedule's run list once, when it reaches its final outcome.
 */
export class ScheduleRunner {
  constructor(private readonly options: ScheduleRunnerOptions) {}

  /** Runs a schedule's job through `execute`; resolves with the output, throws to have BullMQ retry it. */
  async run(job: Job<InvocationJob>, mark: ScheduleMark, execute: (data: InvocationJob) => Promise<InvocationReply>): Promise<unknown> {
    const { redis, prefix, cluster, lockMs } = this.options;
    const jobId = job.id ?? job.data.id;
    const startedAt = Date.now();
    const record = (outcome: ScheduleRunRecord['outcome'], error?: string): Promise<void> =>
      this.record(mark, { jobId, scheduledAt: scheduledAt(job), startedAt, server: this.options.server, outcome, durationMs: Date.now() - startedAt, attempt: Math.max(1, job.attemptsStarted), ...(error ? { error } : {}), ...(mark.manual ? { manual: true } : {}) });
    let renew: NodeJS.Timeout | undefined;
    if (mark.overlap === 'skip') {
      // Longer than a take-over of a dead server's run needs (the lock expiring, then a stalled-job
      // check), so that take-over finds the lock still its own and later ticks keep skipping meanwhile.
      const ttlMs = 3 * lockMs;
      if (!(await acquireScheduleLock(redis, prefix, cluster, mark.name, jobId, ttlMs))) {
        await record('skipped');
        return { skipped: true };
      }
      renew = setInterval(() => {
        acquireScheduleLock(redis, prefix, cluster, mark.name, jobId, ttlMs).catch((err: unknown) =>
          this.options.logger.warn({ err, schedule: mark.name }, 'could not renew a schedule lock'),
        );
      }, lockMs / 2);
      renew.unref();
    }
    try {
      // The tick's job id is its invocation id: the same for every attempt of one run.
      const reply = await execute({ ...job.data, id: jobId });
      if (reply.ok) {
        await record('ok');
        return reply.o;
      }
      const failure = asyncFailure(reply.e);
      // Its last attempt, or one that is not retried: the run's final outcome.
      if (failure instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await record('failed', reply.e.message);
      throw failure;
    } finally {
      clearInterval(renew);
      if (renew) await releaseScheduleLock(redis, prefix, cluster, mark.name, jobId).catch(() => undefined);
    }
  }

  /** A run BullMQ failed without the processor: stalled more often than allowed. */
  async failedOutside(job: Job<InvocationJob>, mark: ScheduleMark, reason: string): Promise<void> {
    const at = job.processedOn ?? Date.now();
    await this.record(mark, { jobId: job.id ?? job.data.id, scheduledAt: scheduledAt(job), startedAt: at, server: '', outcome: 'failed', durationMs: Math.max(0, Date.now() - at), attempt: job.attemptsStarted, error: reason });
  }

  // A run that did happen is never retried because its record could not be written.
  private async record(mark: ScheduleMark, run: ScheduleRunRecord): Promise<void> {
    await recordScheduleRun(this.options.redis, this.options.prefix, this.options.cluster, mark.name, run).catch((err: unknown) =>
      this.options.logger.warn({ err, schedule: mark.name, jobId: run.jobId }, 'could not record a schedule run'),
    );
  }
}

function scheduledAt(job: Job<InvocationJob>): number {
  const tick = TICK_ID.exec(job.id ?? '');
  return tick ? Number(tick[1]) : job.timestamp;
}
