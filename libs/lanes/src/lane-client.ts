import { Queue, type Job } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { ServiceInvocationError, type HttpRequestInfo, type ServiceLane } from '@laneway/sdk';
import type { InvocationJob, InvocationReply, InvocationResult } from './invocation-job';
import { coalesceWrites } from './coalesce-writes';
import { UnconfirmedEnqueueError } from './unconfirmed-enqueue-error';
import { createRedis, type RedisClient } from './create-redis';
import type { RedisSettings, WaitReplicas } from './redis-settings';
import { DEFAULT_QUEUE_PREFIX, laneQueueName, replyChannel } from './queue-keys';

export interface LaneClientOptions {
  /** Redis URL (`redis://host:port/db`), or Laneway's Redis settings in any mode (one Redis, Cluster, Sentinel). */
  redis: string | RedisSettings;
  /** BullMQ prefix shared with the servers. */
  prefix?: string;
  /** Names this process's reply channel; random by default. */
  callerId?: string;
  /**
   * Queue the sync invocations made in one event-loop turn with one `addBulk` per lane queue instead
   * of one `add` each (fewer Redis round trips under concurrency). Off by default.
   */
  batch?: boolean;
}

export interface InvokeRequest {
  cluster: string;
  lane: ServiceLane;
  service: string;
  input: unknown;
  /** How long to wait for the reply; default 30 s. */
  timeoutMs?: number;
  invocationId?: string;
  /** The HTTP request of an invocation that came through a REST channel, for the service's `ctx.http`. */
  http?: HttpRequestInfo;
  /** The W3C traceparent of the caller's span (tracing on): the job carries it, the span that runs it is its child. */
  traceparent?: string;
}

export interface InvokeAsyncRequest {
  cluster: string;
  lane: ServiceLane;
  service: string;
  input: unknown;
  /** Attempts before the job is kept as failed; default 3. */
  attempts?: number;
  /** First retry delay, doubled each attempt; default 1000 ms. */
  backoffMs?: number;
  invocationId?: string;
  /** As {@link InvokeRequest.traceparent}. */
  traceparent?: string;
  /**
   * A key (SET NX, `ttlSeconds`) naming the job, written after the job on the same connection, so
   * that wherever the key is the job is too (a replica gets them in that order), and before the WAIT
   * of waitReplicas, which then covers both.
   */
  idempotency?: { key: string; ttlSeconds: number };
}

/** An async invocation as stored in its lane queue. */
export interface AsyncJobInfo {
  id: string;
  lane: ServiceLane;
  service: string;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'unknown';
  attemptsMade: number;
  input: unknown;
  output: unknown;
  failedReason: string;
  createdAt: number;
  finishedAt: number | undefined;
}

interface Pending {
  resolve: (result: InvocationResult) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  service: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
// Nobody reads a sync job after its reply: drop it at once, and never retry (the caller has a
// deadline and retries itself if it wants to).
const SYNC_JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true, attempts: 1 } as const;
const LANES: readonly ServiceLane[] = ['network', 'cpu'];
/** A filtered page of failed jobs reads ids and names in chunks of this many, at most FILTER_SCAN_MAX per lane. */
const FILTER_SCAN_CHUNK = 1000;
const FILTER_SCAN_MAX = 20_000;

/**
 * Puts invocations on a cluster's lane queues. Sync invocations do not use BullMQ's QueueEvents:
 * each job carries this process's reply channel and a correlation id, and one subscriber
 * connection demultiplexes the replies (QueueEvents is slower and drops events under load).
 */
export class LaneClient {
  readonly prefix: string;
  readonly callerId: string;
  private readonly channel: string;
  private readonly connection: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly waitReplicas: WaitReplicas | undefined;
  /**
   * With waitReplicas: async invocations are added, and WAITed for, on a connection of their own. WAIT
   * blocks its connection until the replicas answer, and must follow the write on the same connection;
   * on the shared one it would hold up every sync call behind it.
   */
  private readonly durable: { connection: RedisClient; queues: Map<string, Queue> } | undefined;
  private readonly queues = new Map<string, Queue>();
  private readonly pending = new Map<string, Pending>();
  private sequence = 0;
  private readonly batch: boolean;
  private readonly batches = new Map<Queue, { name: string; data: InvocationJob; opts: typeof SYNC_JOB_OPTIONS; fail: (err: unknown) => void }[]>();
  private flushScheduled = false;
  private ready: Promise<void> | undefined;
  private closed = false;
  private wasReady = false;

  constructor(options: LaneClientOptions) {
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.callerId = options.callerId ?? randomBytes(8).toString('hex');
    this.batch = options.batch ?? false;
    this.channel = replyChannel(this.prefix, this.callerId);
    const settings: RedisSettings = typeof options.redis === 'string' ? { mode: 'single', url: options.redis } : options.redis;
    this.waitReplicas = settings.mode === 'cluster' ? undefined : settings.waitReplicas;
    this.connection = createRedis(settings);
    this.connection.once('ready', () => (this.wasReady = true));
    this.subscriber = this.connection.duplicate();
    if (this.waitReplicas) this.durable = { connection: this.connection.duplicate(), queues: new Map() };
    this.subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.onReply(message));
  }

  /**
   * False from the moment a connection that was up is lost until it is back (calls made meanwhile
   * would wait for it); true while the first connection is being made, which calls wait for briefly.
   */
  get connected(): boolean {
    const status = this.connection.status;
    return status === 'ready' || (!this.wasReady && (status === 'wait' || status === 'connecting' || status === 'connect'));
  }

  /** Subscribes to the reply channel; called by the first invoke, or up front to fail fast. */
  start(): Promise<void> {
    this.ready ??= this.subscriber.subscribe(this.channel).then(() => undefined);
    return this.ready;
  }

  /** Runs a service on some server of the cluster and waits for its output. */
  async invoke<TOutput = unknown>(request: InvokeRequest): Promise<InvocationResult<TOutput>> {
    if (this.closed) throw new ServiceInvocationError('UNAVAILABLE', 'the lane client is closed', request.service);
    await this.start();
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const correlationId = `${++this.sequence}`;
    const job: InvocationJob = {
      s: request.service,
      i: request.input ?? null,
      r: this.channel,
      c: correlationId,
      d: Date.now() + timeoutMs,
      id: request.invocationId ?? `${this.callerId}-${correlationId}`,
    };
    if (request.http) job.h = request.http;
    if (request.traceparent) job.tp = request.traceparent;
    const result = new Promise<InvocationResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new ServiceInvocationError(
            'DEADLINE_EXCEEDED',
            `service '${request.service}' did not answer within ${timeoutMs} ms`,
            request.service,
          ),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer, service: request.service });
    });
    const fail = (err: unknown): void => {
      const pending = this.pending.get(correlationId);
      if (!pending) return;
      clearTimeout(pending.timer);
      this.pending.delete(correlationId);
      pending.reject(
        new ServiceInvocationError('UNAVAILABLE', `cannot queue service '${request.service}': ${String(err)}`, request.service, {
          cause: err,
        }),
      );
    };
    const queue = this.queue(request.cluster, request.lane);
    if (this.batch) {
      let list = this.batches.get(queue);
      if (!list) this.batches.set(queue, (list = []));
      list.push({ name: request.service, data: job, opts: SYNC_JOB_OPTIONS, fail });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    } else {
      queue.add(request.service, job, SYNC_JOB_OPTIONS).catch(fail);
    }
    return result as Promise<InvocationResult<TOutput>>;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [queue, list] of this.batches) {
      this.batches.delete(queue);
      queue.addBulk(list.map(({ name, data, opts }) => ({ name, data, opts }))).catch((err: unknown) => {
        for (const item of list) item.fail(err);
      });
    }
  }

  /**
   * Queues a durable invocation (retried with exponential backoff) and returns its job id. With
   * `waitReplicas` (LANEWAY_REDIS_WAIT_REPLICAS), only once that many replicas hold it: a job whose id
   * was returned then survives the primary's failover.
   */
  async invokeAsync(request: InvokeAsyncRequest): Promise<string> {
    const id = request.invocationId ?? `${this.callerId}-a${++this.sequence}`;
    const job: InvocationJob = { s: request.service, i: request.input ?? null, id };
    if (request.traceparent) job.tp = request.traceparent;
    const queue = this.durable ? this.queue(request.cluster, request.lane, this.durable) : this.queue(request.cluster, request.lane);
    const added = await queue.add(request.service, job, {
      jobId: id,
      attempts: request.attempts ?? 3,
      backoff: { type: 'exponential', delay: request.backoffMs ?? 1000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      // Failed jobs stay: they are the dead-letter record.
      removeOnFail: false,
    });
    const jobId = added.id ?? id;
    if (request.idempotency) await this.enqueueConnection.set(request.idempotency.key, jobId, 'EX', request.idempotency.ttlSeconds, 'NX');
    if (this.waitReplicas) await this.confirmReplicated(this.waitReplicas, request.service, jobId);
    return jobId;
  }

  /**
   * The connection async invocations are queued on (their own with waitReplicas), and their
   * idempotency keys written (see InvokeAsyncRequest.idempotency).
   */
  get enqueueConnection(): RedisClient {
    return this.durable?.connection ?? this.connection;
  }

  // WAIT covers every write this connection sent before it, the add above included (one Redis, or
  // Sentinel's primary: the settings refuse it for a Cluster).
  private async confirmReplicated(wait: WaitReplicas, service: string, jobId: string): Promise<void> {
    const acked = await this.durable!.connection.wait(wait.replicas, wait.timeoutMs);
    if (acked < wait.replicas) throw new UnconfirmedEnqueueError(service, jobId, acked, wait.replicas, wait.timeoutMs);
  }

  /** Finds an async invocation in either lane of the cluster. */
  async getJob(cluster: string, id: string): Promise<AsyncJobInfo | undefined> {
    for (const lane of LANES) {
      const queue = this.queue(cluster, lane);
      // State first, then data: a job that completes in between then shows its output with the
      // state it had (never "completed" without its output).
      const state = await queue.getJobState(id);
      if (state === 'unknown') continue;
      const job = (await queue.getJob(id)) as Job<InvocationJob> | undefined;
      if (job) return this.describe(job, lane, normaliseState(state));
    }
    return undefined;
  }

  /** Async invocations that used up their attempts, newest first, from both lanes. */
  async listFailed(cluster: string, options: { service?: string; limit: number }): Promise<AsyncJobInfo[]> {
    const found: AsyncJobInfo[] = [];
    for (const lane of LANES) {
      // Scan in pages so a service filter still finds `limit` jobs among many failures.
      const queue = this.queue(cluster, lane);
      for (let start = 0; ; start += 500) {
        const page = (await queue.getFailed(start, start + 499)) as Job<InvocationJob>[];
        for (const job of page) {
          if (job && (!options.service || job.data.s === options.service)) found.push(await this.describe(job, lane, 'failed'));
        }
        if (page.length < 500 || found.length >= options.limit) break;
      }
    }
    return found.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)).slice(0, options.limit);
  }

  /**
   * One page of failed async invocations of both lanes, newest failure first. `from` is where each
   * lane's previous page ended: a position in that lane's failed set, newest first (BullMQ scores it
   * by the failure time), so a page reads about `pageSize` jobs per lane however many have failed.
   * With a service filter it reads only the job names (the service) until it has found them, at most
   * FILTER_SCAN_MAX entries per lane per page: a rare service then gives shorter pages (maybe empty)
   * with a next page, never one slow answer. `next` is undefined on the last page. Jobs retried or
   * removed meanwhile shift the positions: a later page may then skip or repeat one of them.
   */
  async listFailedPage(
    cluster: string,
    options: {
      service?: string | undefined;
      pageSize: number;
      from?: Partial<Record<ServiceLane, number>> | undefined;
      /** Entries a filtered page reads per lane at most (FILTER_SCAN_MAX; smaller in tests). */
      scanMax?: number | undefined;
    },
  ): Promise<{ jobs: AsyncJobInfo[]; next: Record<ServiceLane, number> | undefined }> {
    const want = options.pageSize + 1;
    const scanMax = options.scanMax ?? FILTER_SCAN_MAX;
    const chunk = Math.min(FILTER_SCAN_CHUNK, scanMax);
    const start = (lane: ServiceLane): number => options.from?.[lane] ?? 0;
    type Candidate = { job: AsyncJobInfo; lane: ServiceLane; position: number };
    const scans = await Promise.all(
      LANES.map(async (lane): Promise<{ lane: ServiceLane; candidates: Candidate[]; scannedTo: number; oldestScanned: number | undefined }> => {
        const queue = this.queue(cluster, lane);
        const candidates: Candidate[] = [];
        if (!options.service) {
          const page = (await queue.getFailed(start(lane), start(lane) + want - 1)) as (Job<InvocationJob> | undefined)[];
          for (let i = 0; i < page.length; i++) {
            const job = page[i];
            if (job) candidates.push({ job: await this.describe(job, lane, 'failed'), lane, position: start(lane) + i });
          }
          // Fewer than asked: the lane is exhausted (no limit on what follows).
          return { lane, candidates, scannedTo: start(lane) + page.length, oldestScanned: undefined };
        }
        // Filtered: ids and failure times from the sorted set, the service from each job's name (one
        // HGET in a pipeline), and only the matches read in full.
        let at = start(lane);
        let oldest: number | undefined;
        while (candidates.length < want && at - start(lane) < scanMax) {
          const flat = await this.connection.zrevrange(queue.keys['failed']!, at, at + chunk - 1, 'WITHSCORES');
          const ids = flat.filter((_, i) => i % 2 === 0);
          const pipeline = this.connection.pipeline();
          for (const id of ids) pipeline.hget(queue.toKey(id), 'name');
          const names = ((await pipeline.exec()) ?? []).map(([, name]) => name);
          for (let i = 0; i < ids.length && candidates.length < want; i++) {
            if (names[i] !== options.service) continue;
            const job = (await queue.getJob(ids[i]!)) as Job<InvocationJob> | undefined;
            if (job) candidates.push({ job: await this.describe(job, lane, 'failed'), lane, position: at + i });
          }
          if (ids.length < chunk) return { lane, candidates, scannedTo: at + ids.length, oldestScanned: undefined };
          oldest = Number(flat[flat.length - 1]);
          at += ids.length;
        }
        // Stopped with entries left: what follows failed at or before `oldest`.
        return { lane, candidates, scannedTo: at, oldestScanned: candidates.length < want ? oldest : undefined };
      }),
    );
    // A lane whose scan stopped early may hold jobs older than its last scanned entry but newer than
    // another lane's candidates: this page ends at the newest such boundary, so the order holds.
    const boundary = Math.max(...scans.map((s) => s.oldestScanned ?? -Infinity));
    const candidates = scans
      .flatMap((s) => s.candidates)
      .filter((c) => (c.job.finishedAt ?? 0) >= boundary)
      .sort((a, b) => (b.job.finishedAt ?? 0) - (a.job.finishedAt ?? 0) || LANES.indexOf(a.lane) - LANES.indexOf(b.lane) || a.position - b.position);
    const taken = candidates.slice(0, options.pageSize);
    const next = Object.fromEntries(LANES.map((lane) => [lane, start(lane)])) as Record<ServiceLane, number>;
    for (const c of taken) next[c.lane] = Math.max(next[c.lane], c.position + 1);
    // A lane cut short with all its candidates taken continues after what it scanned.
    for (const s of scans) if (s.oldestScanned !== undefined && s.candidates.every((c) => taken.includes(c))) next[s.lane] = s.scannedTo;
    const more = scans.some((s) => s.oldestScanned !== undefined || s.candidates.some((c) => !taken.includes(c)));
    return { jobs: taken.map((c) => c.job), next: more ? next : undefined };
  }

  /** Queues a failed async invocation again with its attempts reset; returns false if it is not failed. */
  async retryFailed(cluster: string, id: string): Promise<AsyncJobInfo | undefined> {
    for (const lane of LANES) {
      const job = (await this.queue(cluster, lane).getJob(id)) as Job<InvocationJob> | undefined;
      if (!job) continue;
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      const again = (await this.queue(cluster, lane).getJob(id)) as Job<InvocationJob>;
      return this.describe(again, lane);
    }
    return undefined;
  }

  private async describe(job: Job<InvocationJob>, lane: ServiceLane, known?: AsyncJobInfo['state']): Promise<AsyncJobInfo> {
    const state = known ?? normaliseState(await job.getState());
    return {
      id: job.id ?? '',
      lane,
      service: job.data.s,
      state,
      attemptsMade: job.attemptsMade,
      input: job.data.i,
      output: job.returnvalue,
      failedReason: job.failedReason ?? '',
      createdAt: job.timestamp,
      finishedAt: job.finishedOn,
    };
  }

  /** Number of sync invocations waiting for a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new ServiceInvocationError('UNAVAILABLE', 'the lane client closed before the reply came', pending.service));
      this.pending.delete(id);
    }
    await Promise.all([...this.queues.values(), ...(this.durable?.queues.values() ?? [])].map((q) => q.close()));
    this.subscriber.disconnect();
    await Promise.all([this.connection, this.durable?.connection].map((c) => c?.quit().catch(() => undefined)));
  }

  /** The lane queue on the shared connection, or on `on` (the durable one). */
  private queue(cluster: string, lane: ServiceLane, on?: { connection: RedisClient; queues: Map<string, Queue> }): Queue {
    const name = laneQueueName(cluster, lane);
    const queues = on?.queues ?? this.queues;
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: on?.connection ?? this.connection, prefix: this.prefix });
      queues.set(name, queue);
    }
    return queue;
  }

  private onReply(message: Buffer): void {
    let parsed: InvocationReply | InvocationReply[];
    try {
      parsed = JSON.parse(message.toString('utf8')) as InvocationReply | InvocationReply[];
    } catch {
      return;
    }
    // A server sends the replies it has for this caller in one turn as one array.
    if (Array.isArray(parsed)) {
      // The calls these replies release tend to invoke again at once: one write for all their adds.
      coalesceWrites(this.connection);
      for (const reply of parsed) this.settle(reply);
    } else this.settle(parsed);
  }

  private settle(reply: InvocationReply): void {
    const pending = this.pending.get(reply.c);
    // A reply for a call that already timed out: nobody is waiting any more.
    if (!pending) return;
    this.pending.delete(reply.c);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve({ output: reply.o, server: reply.srv, version: reply.v });
    else pending.reject(new ServiceInvocationError(reply.e.code, reply.e.message, pending.service, { retryable: reply.e.retryable }));
  }
}

function normaliseState(state: string): AsyncJobInfo['state'] {
  if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'completed' || state === 'failed') return state;
  return state === 'prioritized' || state === 'waiting-children' ? 'waiting' : 'unknown';
}
