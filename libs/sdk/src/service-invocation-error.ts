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

/**
 * Thrown by {@link ServiceContext.invoke} (and by Laneway's invoke clients) when an invocation fails.
 */
export class ServiceInvocationError extends Error {
  override readonly name = 'ServiceInvocationError';

  constructor(
    /** Stable machine-readable reason. */
    readonly code: InvocationErrorCode,
    message: string,
    /** The service that was invoked. */
    readonly service: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
