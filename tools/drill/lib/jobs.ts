import { JobState } from '@laneway/proto';
import { REDIS_URL, type Api } from '@laneway/testkit';
import { Redis } from 'ioredis';
import { sleep } from './load';

export interface JobResult {
  /** Async calls made. */
  sent: number;
  /** Accepted (a job id came back). */
  accepted: number;
  /** Refused with 503 / UNAVAILABLE, as documented while Redis is away (not a failure). */
  refused: number;
  /** Anything else that went wrong with a call. */
  failed: number;
  /** Accepted jobs never run, or not completed, by the deadline. */
  lost: number;
  /** Runs beyond the first of a job (at-least-once delivery). */
  duplicates: number;
  lostIds: string[];
  /** Why each lost job counts as lost: never ran, or its state and last error. */
  lostWhy: string[];
}

/**
 * Async job accounting: every accepted job id is kept, and `verify` checks each ran (the job service
 * counts runs per invocation id in a Redis hash) and completed, counting losses and duplicates.
 */
export class JobTracker {
  readonly ids: string[] = [];
  sent = 0;
  refused = 0;
  failed = 0;
  readonly failures: string[] = [];
  private readonly redis = new Redis(REDIS_URL);

  constructor(
    private readonly api: Api,
    private readonly cluster: string,
    private readonly runsKey: string,
  ) {}

  /**
   * Submits a job with `submit` every `everyMs` (not waiting for each answer) until the returned
   * stop() is called; stop() resolves once the loop has ended.
   */
  submitEvery(everyMs: number, submit: () => Promise<void>): { stop(): Promise<void> } {
    let running = true;
    const loop = (async () => {
      while (running) {
        void submit();
        await sleep(everyMs);
      }
    })();
    return {
      stop: () => {
        running = false;
        return loop;
      },
    };
  }

  /** One InvokeAsync through the control plane. */
  async viaControlPlane(service: string, input: unknown): Promise<void> {
    this.sent++;
    try {
      this.ids.push((await this.api.invokeAsync(this.cluster, service, input)).jobId);
    } catch (err) {
      this.fail(`InvokeAsync: ${(err as Error).message}`);
    }
  }

  /** One async channel POST (through HAProxy): 202 with a job id, or 503 refused. */
  async viaChannel(url: string, input: unknown): Promise<void> {
    this.sent++;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (response.status === 202) this.ids.push((JSON.parse(text) as { jobId: string }).jobId);
      else if (response.status === 503) this.refused++;
      else this.fail(`POST ${response.status}: ${text.slice(0, 200)}`);
    } catch (err) {
      this.fail(`POST: ${(err as Error).message}`);
    }
  }

  private fail(detail: string): void {
    this.failed++;
    if (this.failures.length < 20) this.failures.push(detail);
  }

  /** Waits up to `timeoutMs` for every accepted job to have run and completed, then counts. */
  async verify(timeoutMs: number): Promise<JobResult> {
    const until = Date.now() + timeoutMs;
    let runs: Record<string, string> = {};
    let missing: string[] = this.ids;
    while (Date.now() < until) {
      runs = await this.redis.hgetall(this.runsKey);
      missing = this.ids.filter((id) => !runs[id]);
      if (missing.length === 0) break;
      await sleep(200);
    }
    // Ran, and recorded by BullMQ as completed: the record is written just before completion.
    const notCompleted: string[] = [];
    const why: string[] = [];
    for (const id of missing) {
      const job = await this.api.getJob(this.cluster, id).catch((err: Error) => ({ state: -1, failedReason: err.message, attemptsMade: 0 }));
      why.push(`${id}: never ran (state ${JobState[job.state] ?? job.state}, ${job.attemptsMade} attempts, ${job.failedReason || 'no error'})`);
    }
    for (const id of this.ids.filter((id) => runs[id])) {
      for (;;) {
        const job = await this.api.getJob(this.cluster, id).catch(() => undefined);
        if (job?.state === JobState.JOB_STATE_COMPLETED) break;
        if (Date.now() > until) {
          notCompleted.push(id);
          why.push(`${id}: ran ${runs[id]} time(s) but ${job ? `state ${JobState[job.state] ?? job.state}, ${job.attemptsMade} attempts, ${job.failedReason || 'no error'}` : 'GetJob failed'}`);
          break;
        }
        await sleep(100);
      }
    }
    const duplicates = this.ids.reduce((sum, id) => sum + Math.max(0, Number(runs[id] ?? 0) - 1), 0);
    const lostIds = [...missing, ...notCompleted];
    return { sent: this.sent, accepted: this.ids.length, refused: this.refused, failed: this.failed, lost: lostIds.length, duplicates, lostIds, lostWhy: why };
  }

  /** Runs per invocation id so far. */
  runs(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.runsKey);
  }

  /** Jobs started on `server` that had not finished running at this moment (cut off, if it dies now). */
  async midRunOn(server: string): Promise<string[]> {
    const [started, runs] = await Promise.all([this.redis.hgetall(`${this.runsKey}:started`), this.redis.hgetall(this.runsKey)]);
    return Object.entries(started)
      .filter(([id, on]) => on === server && !runs[id])
      .map(([id]) => id);
  }

  /** Which server finished running each of `ids` ('' for none yet). */
  async finishedBy(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.redis.hmget(`${this.runsKey}:by`, ...ids)).map((s) => s ?? '');
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
