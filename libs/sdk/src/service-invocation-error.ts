/** Why an invocation failed, as a stable code. */
export type InvocationErrorCode =
  /** No such service is deployed to the cluster (or not yet on the server that took the job). */
  | 'NOT_FOUND'
  /** The input was rejected by the service or was not valid JSON. */
  | 'INVALID_ARGUMENT'
  /** The caller's deadline passed before the output arrived. */
  | 'DEADLINE_EXCEEDED'
  /** The service threw. */
  | 'SERVICE_FAILED'
  /** The server could not run the service (for example, its worker thread died). */
  | 'UNAVAILABLE';

/** Options of a {@link ServiceInvocationError}. */
export interface ServiceInvocationErrorOptions {
  cause?: unknown;
  /**
   * Whether running the same invocation again could succeed. `false` fails an async invocation (a
   * channel's `async`, `InvokeAsync`, `ctx.invokeAsync`, a schedule's run) at once, kept as failed,
   * without the retries of its `attempts` policy. Default: `false` for `INVALID_ARGUMENT` (the same
   * input is refused the same way every time), `true` for every other code.
   */
  retryable?: boolean;
}

/**
 * Thrown by {@link ServiceContext.invoke} (and by Laneway's invoke clients) when an invocation fails.
 * A service may throw one itself to choose the code its callers see, or to say that retrying is
 * pointless.
 *
 * @example
 * // A declined card stays declined: fail the async job now instead of retrying it with backoff.
 * throw new ServiceInvocationError('SERVICE_FAILED', `card ending ${last4} was declined`, 'payments.charge', { retryable: false });
 */
export class ServiceInvocationError extends Error {
  override readonly name = 'ServiceInvocationError';
  /** Whether running the same invocation again could succeed (see {@link ServiceInvocationErrorOptions.retryable}). */
  readonly retryable: boolean;

  constructor(
    /** Stable machine-readable reason. */
    readonly code: InvocationErrorCode,
    message: string,
    /** The service that was invoked. */
    readonly service: string,
    options?: ServiceInvocationErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options?.retryable ?? code !== 'INVALID_ARGUMENT';
  }
}
