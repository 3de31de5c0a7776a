import { createHash, randomUUID } from 'node:crypto';
import { idempotencyKey, UnconfirmedEnqueueError, type RedisClient } from '@laneway/lanes';
import type { Invoker } from '../lanes/invoker';
import type { ChannelRoute } from './channel-route';

// How long a client's Idempotency-Key keeps naming its first job.
const IDEMPOTENCY_TTL_S = 24 * 3600;
// How long queueing may take before the caller is answered 503 (the job may be queued after that).
const ENQUEUE_TIMEOUT_MS = 5000;

/** Why an async call was not (or may not have been) queued: its message is for the caller. */
export class QueueUnavailableError extends Error {
  readonly code = 'QUEUE_UNAVAILABLE';
}

/**
 * Queues async channel calls through the durable async path (retries, stalled-job recovery). With an
 * Idempotency-Key, the job's id comes from the caller and the key, the job is queued and then the key
 * stored naming it (SET NX, 24 h); a repeat finds the key and returns that job id, queueing nothing,
 * and one that finds no key queues the same job id again, which Redis keeps once: the invocation runs
 * once. The key goes to Redis after its job, on the same connection, so a failover can lose the key
 * and keep the job (a repeat then queues nothing new) or lose both (a repeat queues it again), never
 * keep the key without its job.
 */
export class AsyncEnqueuer {
  constructor(
    /** Where Idempotency-Keys are kept: the connection the jobs are queued on (LaneClient.enqueueConnection). */
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly cluster: string,
    private readonly invoker: Invoker,
    /** Whether Redis is reachable now; while it is not, calls are refused at once (their commands would wait for it). */
    private readonly available: () => boolean,
  ) {}

  /**
   * Refused at once, queueing nothing, while Redis is unreachable; a call whose Redis commands take
   * over ENQUEUE_TIMEOUT_MS is answered with an error too, though its job may still be queued.
   */
  readonly enqueue = (route: ChannelRoute, input: unknown, options: { idempotencyKey: string | undefined; caller: string }): Promise<{ jobId: string; repeated: boolean }> => {
    if (!this.available()) {
      return Promise.reject(new QueueUnavailableError(`channel '${route.name}' is async and Redis is unreachable: nothing was queued; retry later`));
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new QueueUnavailableError(
              `channel '${route.name}': Redis did not answer within ${ENQUEUE_TIMEOUT_MS / 1000} s; the call may still be queued, so repeat it with the same Idempotency-Key to have it run once`,
            ),
          ),
        ENQUEUE_TIMEOUT_MS,
      );
    });
    return Promise.race([this.queue(route, input, options), late]).finally(() => clearTimeout(timer));
  };

  private async queue(route: ChannelRoute, input: unknown, options: { idempotencyKey: string | undefined; caller: string }): Promise<{ jobId: string; repeated: boolean }> {
    if (options.idempotencyKey === undefined) {
      try {
        return { jobId: await this.invoker.invokeAsyncFromService(route.service, input, `${route.name}-${randomUUID()}`), repeated: false };
      } catch (err) {
        throw unconfirmed(route, err, 'repeating it may run it twice: send an Idempotency-Key to have it run once');
      }
    }
    // Keys are the caller's: two callers may pick the same key without seeing each other's job.
    const digest = createHash('sha256').update(`${options.caller}\u0000${options.idempotencyKey}`).digest('hex');
    const key = idempotencyKey(this.prefix, this.cluster, route.name, digest);
    const first = await this.redis.get(key);
    if (first) return { jobId: first, repeated: true };
    try {
      const id = await this.invoker.invokeAsyncFromService(route.service, input, `${route.name}-${digest.slice(0, 32)}`, undefined, { key, ttlSeconds: IDEMPOTENCY_TTL_S });
      return { jobId: id, repeated: false };
    } catch (err) {
      // Queued, key written, but not confirmed by the replicas: a repeat gets this job, or queues it
      // again if a failover lost it. Any other error: the key, if written, names a queued job.
      throw unconfirmed(route, err, 'repeat it with the same Idempotency-Key to have it run once');
    }
  }
}

/** The caller's answer when Redis's replicas did not confirm the job (LANEWAY_REDIS_WAIT_REPLICAS); any other error as it is. */
function unconfirmed(route: ChannelRoute, err: unknown, advice: string): unknown {
  if (!(err instanceof UnconfirmedEnqueueError)) return err;
  return new QueueUnavailableError(
    `channel '${route.name}': job '${err.jobId}' was queued but only ${err.confirmedBy} of ${err.wanted} Redis replica(s) confirmed it in time ` +
      `(LANEWAY_REDIS_WAIT_REPLICAS): it may run, or be lost if the Redis primary fails now; ${advice}`,
    { cause: err },
  );
}
