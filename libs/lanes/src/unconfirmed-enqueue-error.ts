import { ServiceInvocationError } from '@laneway/sdk';

/**
 * An async job was queued but fewer Redis replicas than LANEWAY_REDIS_WAIT_REPLICAS asked for confirmed
 * it in time: it may run, or be lost if the primary fails now. Callers that keep an idempotency record
 * keep it (the record went to the same primary before the job, so it lives or dies with the job).
 */
export class UnconfirmedEnqueueError extends ServiceInvocationError {
  constructor(
    service: string,
    readonly jobId: string,
    readonly confirmedBy: number,
    readonly wanted: number,
    timeoutMs: number,
  ) {
    super(
      'UNAVAILABLE',
      `service '${service}': job '${jobId}' was queued but only ${confirmedBy} of ${wanted} Redis replica(s) confirmed it within ${timeoutMs} ms ` +
        '(LANEWAY_REDIS_WAIT_REPLICAS): it may run, or be lost if the primary fails now',
      service,
    );
  }
}
