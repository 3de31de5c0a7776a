import { UnrecoverableError } from 'bullmq';
import type { InvocationFailure } from '@laneway/lanes';

/**
 * The error an async job's processor throws for a failed invocation: BullMQ's UnrecoverableError
 * (failed now, kept as failed, no retries) when running it again cannot succeed (input the service's
 * schema refused, INVALID_ARGUMENT; an error the service marked `retryable: false`), a plain Error
 * (retried with backoff) otherwise.
 */
export function asyncFailure(failure: InvocationFailure): Error {
  return failure.code === 'INVALID_ARGUMENT' || failure.retryable === false ? new UnrecoverableError(failure.message) : new Error(failure.message);
}
