import { WaitingError, type Worker } from 'bullmq';
import { laneQueueName, ReplyPublisher, tracing, watchLegacyQueues, type InvocationJob, type RedisClient } from '@laneway/lanes';
import type { ServiceLane } from '@laneway/sdk';
import type { Logger } from 'pino';
import { asyncFailure } from './async-failure';
import { ChainingWorker } from './chaining-worker';
import type { ServerMetrics } from '../metrics/server-metrics';
import type { Invoker } from './invoker';
import { ScheduleRunner } from './schedule-runner';
import { endSpan, startJobSpan } from '../tracing/spans';

export interface LaneWorkersOptions {
  cluster: string;
  /** This server's name, in the schedules' run lists. */
  server: string;
  prefix: string;
  connection: RedisClient;
  /** Used to publish replies; a plain (non-blocking) connection. */
  publisher: RedisClient;
  invoker: Invoker;
  networkConcurrency: number;
  /** BullMQ Workers sharing the network lane's concurrency. */
  networkFetchers: number;
  cpuConcurrency: number;
  /** BullMQ lock duration; stalled jobs of a dead server are recovered after about this long. */
  lockMs: number;
  logger: Logger;
  /** Where each job's wait, run time and outcome are recorded, by lane; absent with metrics off. */
  metrics?: ServerMetrics | undefined;
}

/** How long a lane worker waits after a Redis connection error before it tries again (BullMQ's default is 15 s). */
const RUN_RETRY_DELAY_MS = 1000;
/** Network-lane jobs in flight on this server at which the extra fetchers start. */
const BOOST_AT = 4;
/** How often the load is checked; the extra fetchers stop after one period below BOOST_AT. */
const BOOST_CHECK_MS = 500;

/**
 * The BullMQ consumers of the cluster's two lane queues (competing consumers across servers). Created
 * on first use; drain pauses them (no new jobs, in-flight ones finish), resume restarts them.
 */
export class LaneWorkers {
  private readonly workers: Worker<InvocationJob>[] = [];
  // One for all lanes and fetchers: replies to one caller that finish in one turn share a message.
  private readonly replies: ReplyPublisher;
  private readonly schedules: ScheduleRunner;
  private running = false;
  private drained = false;
  private active = 0;
  /** Network-lane fetchers beyond the first: they run only while the lane is busy. */
  private readonly extras = new Set<Worker<InvocationJob>>();
  private boostedNow = false;
  private boostTimer: NodeJS.Timeout | undefined;
  private networkActive = 0;
  private networkPeak = 0;
  private stopLegacyWatch: (() => Promise<void>) | undefined;

  constructor(private readonly options: LaneWorkersOptions) {
    this.replies = new ReplyPublisher(options.publisher);
    const { cluster, prefix, server, publisher: redis, lockMs, logger } = options;
    this.schedules = new ScheduleRunner({ cluster, prefix, server, redis, lockMs, logger: logger.child({ component: 'schedules' }) });
  }

  /** True while the workers take jobs. */
  get serving(): boolean {
    return this.running && !this.drained;
  }

  /** True while the control plane has this server drained (or another replica took its name). */
  get isDrained(): boolean {
    return this.drained;
  }

  get inFlight(): number {
    return this.active;
  }

  /** Creates the workers; they take jobs at once unless the server is drained. */
  async start(): Promise<void> {
    if (this.workers.length) return;
    // Extra fetchers (LANEWAY_NETWORK_FETCHERS, default 2) share the network lane's concurrency. Under
    // BullMQ's own loop a second one added 24-35% sync calls/s at 100 in flight. With the lane
    // workers' own loop (ChainingWorker) 2 against 1 gave the same calls/s (10,573 against 10,621,
    // means of 5 interleaved A/B pairs) and the same lone-call p50 (0.625 against 0.623 ms, 4 pairs)
    // on loopback Redis; in a burst (once 4 are in flight) two still fetch twice as many jobs per
    // round trip, which counts where Redis is further away (not measured). On a quiet lane they only
    // cost: under BullMQ's loop a lone call's pickup alternated between the blocked fetchers, and its
    // p50 was about 15% higher with two. So the extra fetchers run only while the lane is busy.
    const fetchers = this.options.networkFetchers;
    const perFetcher = Math.max(1, Math.ceil(this.options.networkConcurrency / fetchers));
    for (let i = 0; i < fetchers; i++) {
      const worker = this.worker('network', perFetcher);
      this.workers.push(worker);
      if (i > 0) this.extras.add(worker);
    }
    // The CPU-lane worker runs on the main thread too, so its lock renewals never wait behind CPU
    // work; it only hands jobs to the thread pool. Its concurrency matches the pool size.
    this.workers.push(this.worker('cpu', this.options.cpuConcurrency));
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    if (this.extras.size) {
      this.boostTimer = setInterval(() => this.checkLoad(), BOOST_CHECK_MS);
      this.boostTimer.unref();
    }
    if (!this.drained) this.run();
    // Jobs still queued under the lane queues' names before b5b940a are carried into these queues.
    this.stopLegacyWatch = watchLegacyQueues({ redis: this.options.publisher, prefix: this.options.prefix, cluster: this.options.cluster, logger: this.options.logger });
  }

  /** Network-lane fetchers running now: the extra ones run only while the lane is busy. */
  get networkFetchers(): number {
    return this.boostedNow ? 1 + this.extras.size : 1;
  }

  async setDrained(drained: boolean): Promise<void> {
    if (drained === this.drained) return;
    this.drained = drained;
    if (!this.workers.length) return;
    if (drained) {
      this.boostedNow = false;
      // pause(true): stop fetching now and return; jobs already running finish on their own.
      await Promise.all(this.workers.map((w) => w.pause(true)));
    } else if (!this.running) {
      this.run();
    } else {
      for (const w of this.workers) if (!this.extras.has(w)) void w.resume();
    }
  }

  /** A network-lane job starts: a lane this busy gets its extra fetchers. */
  private networkJobStarted(): void {
    this.networkActive++;
    if (this.networkActive > this.networkPeak) this.networkPeak = this.networkActive;
    if (!this.boostedNow && this.networkActive >= BOOST_AT && this.extras.size && this.serving) {
      this.boostedNow = true;
      for (const w of this.extras) void w.resume();
    }
  }

  /** Every BOOST_CHECK_MS: the extra fetchers stop once a whole period stayed below BOOST_AT in flight. */
  private checkLoad(): void {
    const peak = this.networkPeak;
    this.networkPeak = this.networkActive;
    if (!this.boostedNow || peak >= BOOST_AT) return;
    this.boostedNow = false;
    // pause(true) stops fetching without waiting; a fetcher still blocked waiting for a job may take
    // one more, which it runs as usual.
    for (const w of this.extras) void w.pause(true);
  }

  /**
   * Stops taking jobs and waits up to `timeoutMs` for the in-flight ones; then closes anyway. Jobs cut
   * off that way keep their lock until it expires and are then taken over by another server.
   */
  async close(timeoutMs = Infinity): Promise<{ finished: boolean }> {
    const graceful = Promise.all([...this.workers.map((w) => w.close()), this.stopLegacyWatch?.()]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearInterval(this.boostTimer);
    const finished = await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    if (!finished) await Promise.all(this.workers.map((w) => w.close(true)));
    this.running = false;
    return { finished };
  }

  private run(): void {
    this.running = true;
    for (const w of this.workers) {
      // Extra fetchers start on demand (networkJobStarted); resume() runs them.
      if (this.extras.has(w) && !this.boostedNow) continue;
      w.run().catch((err: unknown) => this.options.logger.error({ err }, 'lane worker stopped with an error'));
    }
  }

  private worker(lane: ServiceLane, concurrency: number): Worker<InvocationJob> {
    const { invoker, logger } = this.options;
    const log = logger.child({ lane });
    const series = this.options.metrics?.lane(lane);
    const queueName = laneQueueName(this.options.cluster, lane);
    const worker = new ChainingWorker<InvocationJob>(
      queueName,
      async (job, token) => {
        const data = job.data;
        if (this.drained) {
          // A worker blocked waiting for a job can still take one right after pause(); hand it back
          // untouched so another server runs it.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        // Wait: from when the job was queued (or, delayed, due) to now, expired or not; a retry's wait
        // would be its backoff, so only first runs count.
        if (series && job.attemptsMade === 0) series.wait.observe(Math.max(0, Date.now() - job.timestamp - (job.delay || 0)) / 1000);
        // The caller gave up already: running the job would only waste the lane.
        if (data.d !== undefined && data.d < Date.now()) return undefined;
        this.active++;
        if (lane === 'network') this.networkJobStarted();
        const started = series ? performance.now() : 0;
        let ok = false;
        // With tracing on, the job runs inside a span continuing the one that queued it (its `tp`).
        const t = tracing();
        const span = t && startJobSpan(t, data, lane, queueName, this.options.server, job.attemptsMade + 1);
        let failure: unknown;
        try {
          // A schedule's tick (or RunScheduleNow): its overlap rule, and its run recorded once.
          if (data.sch) {
            const output = await this.schedules.run(job, data.sch, (d) => invoker.run(d, span));
            ok = true;
            return output;
          }
          const reply = await invoker.run(data, span);
          ok = reply.ok;
          if (!reply.ok) failure = reply.e;
          if (data.r) {
            await this.replies.send(data, reply);
            return undefined;
          }
          // Async invocation: a failure is thrown so that BullMQ retries it with backoff and, after
          // the last attempt, keeps it as a failed job; one that would fail the same way again
          // (input the schema refuses, an error the service marked) is failed at once.
          if (!reply.ok) throw asyncFailure(reply.e);
          return reply.o;
        } catch (err) {
          failure ??= err;
          throw err;
        } finally {
          if (span) endSpan(t!, span, failure);
          this.active--;
          if (lane === 'network') this.networkActive--;
          if (series) {
            const seconds = (performance.now() - started) / 1000;
            if (ok) series.duration.observe(seconds);
            else series.duration.observeError(seconds);
          }
        }
      },
      {
        connection: this.options.connection,
        prefix: this.options.prefix,
        concurrency,
        autorun: false,
        lockDuration: this.options.lockMs,
        // Check for stalled jobs (a dead server's) as often as locks expire.
        stalledInterval: this.options.lockMs,
        // After a connection error (a Redis restart, a Sentinel failover), BullMQ waits this long before
        // it fetches or finishes jobs again; its default, 15 s, twice in a row kept a server from taking
        // any job for 30 s after a killed primary's replica had taken over in under 2 s.
        runRetryDelay: RUN_RETRY_DELAY_MS,
      },
    );
    worker.on('error', (err) => log.error({ err }, 'lane worker error'));
    worker.on('failed', (job, err) => {
      // Failed by BullMQ itself (a run that stalled again and again): the processor recorded nothing.
      if (job?.data.sch && err.message.includes('allowable limit')) {
        void this.schedules.failedOutside(job, job.data.sch, err.message);
      }
      if (job && !job.data.r) {
        log.warn({ service: job.data.s, jobId: job.id, attempt: job.attemptsMade, err: err.message }, 'async job failed');
      }
    });
    return worker;
  }
}

