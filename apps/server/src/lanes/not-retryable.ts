/**
 * Whether a service's error says that running the invocation again cannot succeed: a
 * ServiceInvocationError with `retryable: false` (the default for INVALID_ARGUMENT), or any error
 * object carrying `retryable: false`. An async job failing so is not retried (see LaneWorkers).
 */
export function notRetryable(err: unknown): boolean {
  return err !== null && typeof err === 'object' && (err as { retryable?: unknown }).retryable === false;
}
