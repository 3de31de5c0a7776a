import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';

/** Why a call never reached a control plane, when that is what happened. */
export type Unreached = 'unreachable' | 'tls-failed' | 'not-tls';

/**
 * A failed call to the control plane's API: the one error type every caller (CLI, web admin,
 * testkit, benchmarks, mirror link) sees. `code` is the numeric gRPC status (as on grpc-js's
 * ServiceError, so `{ code: status.NOT_FOUND }` matches either), `status` its name, `details` what
 * the control plane said, `detail` the same with a hint when the call never reached one, and the
 * message `<STATUS>: <detail>`.
 */
export class ApiError extends Error {
  readonly code: number;
  readonly status: string;
  readonly details: string;
  readonly detail: string;
  /** Set when the call never reached a control plane (refused, unresolvable, TLS handshake failed). */
  readonly unreached: Unreached | undefined;

  constructor(code: number, details: string, options: { detail?: string; unreached?: Unreached; cause?: unknown } = {}) {
    const name = statusName(code);
    const detail = options.detail ?? (details.trim() || 'no details');
    super(`${name}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = name;
    this.details = details;
    this.detail = detail;
    this.unreached = options.unreached;
  }
}

/** The typed errors callers branch on most; any other status is a plain ApiError. */
export class NotFoundError extends ApiError {}
export class AlreadyExistsError extends ApiError {}
export class InvalidArgumentError extends ApiError {}
export class FailedPreconditionError extends ApiError {}
export class PermissionDeniedError extends ApiError {}
export class UnauthenticatedError extends ApiError {}
export class UnavailableError extends ApiError {}
export class DeadlineExceededError extends ApiError {}
export class ResourceExhaustedError extends ApiError {}

const CLASSES: Partial<Record<number, typeof ApiError>> = {
  [status.NOT_FOUND]: NotFoundError,
  [status.ALREADY_EXISTS]: AlreadyExistsError,
  [status.INVALID_ARGUMENT]: InvalidArgumentError,
  [status.FAILED_PRECONDITION]: FailedPreconditionError,
  [status.PERMISSION_DENIED]: PermissionDeniedError,
  [status.UNAUTHENTICATED]: UnauthenticatedError,
  [status.UNAVAILABLE]: UnavailableError,
  [status.DEADLINE_EXCEEDED]: DeadlineExceededError,
  [status.RESOURCE_EXHAUSTED]: ResourceExhaustedError,
};

export interface CallContext {
  /** The address the call went to (or "any of A, B"), for the "cannot reach" message. */
  readonly controlPlane: string;
  /**
   * Whether the channel had a connection when the call failed. False means the error came from the
   * client side (refused, unresolvable, timed out connecting), not from the control plane.
   */
  readonly connected?: boolean;
  /** The CA file the call trusted, when it used TLS. */
  readonly caFile?: string | undefined;
  /** Hints appended to "cannot reach" messages, e.g. which setting names the address or the CA. */
  readonly hints?: UnreachedHints | undefined;
}

export interface UnreachedHints {
  /** After "is it running?", e.g. `set LANEWAY_CONTROL_PLANE`. */
  readonly address?: string;
  /** After a TLS failure, e.g. `set LANEWAY_TLS_CA`. */
  readonly ca?: string;
}

// What grpc-js reports when the TLS handshake failed: an untrusted or mismatching certificate, or a
// control plane that does not speak TLS.
const TLS_FAILURE =
  /certificate|self[- ]signed|unable to verify|altnames|ERR_SSL|SSL routines|wrong version number|socket disconnected before secure/i;
// A plaintext client against a TLS control plane: TCP connects, the HTTP/2 preface gets no answer.
const HANDSHAKE_REFUSED = /Failed to connect/;
const CONNECTION_FAILURE =
  /no connection established|name resolution failed|dns resolution failed|failed to connect|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT/i;

export function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceError>).code === 'number' &&
    typeof (error as Partial<ServiceError>).details === 'string'
  );
}

/** `NOT_FOUND` for 5, `UNKNOWN_STATUS_42` for a code grpc does not define. */
export function statusName(code: number): string {
  const name: unknown = (status as unknown as Record<number, unknown>)[code];
  return typeof name === 'string' ? name : `UNKNOWN_STATUS_${code}`;
}

function make(error: ServiceError, options: { detail?: string; unreached?: Unreached }): ApiError {
  const Kind = CLASSES[error.code] ?? ApiError;
  return new Kind(error.code, error.details, { ...options, cause: error });
}

/**
 * The one place a gRPC failure becomes a typed error: the control plane's status and details, or,
 * when the call never reached one, what went wrong (not running, TLS mismatch) with the caller's
 * hints. Anything that is not a grpc-js ServiceError is returned unchanged.
 */
export function toApiError(error: unknown, context: CallContext): unknown {
  if (error instanceof ApiError || !isServiceError(error)) return error;
  const unreachable =
    context.connected === false
      ? error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED
      : context.connected === undefined && error.code === status.UNAVAILABLE && CONNECTION_FAILURE.test(error.details);
  if (!unreachable) return make(error, {});
  const hint = (text: string | undefined): string => (text ? ` (${text})` : '');
  if (context.caFile !== undefined && TLS_FAILURE.test(error.details)) {
    const reason = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(error.details.trim())?.[1]?.trim() ?? error.details;
    return make(error, {
      unreached: 'tls-failed',
      detail:
        `TLS connection to the control plane at ${context.controlPlane} failed (${reason}): ` +
        `does ${context.caFile} hold the CA that signed its certificate for this address, and does it serve TLS?${hint(context.hints?.ca)}`,
    });
  }
  if (context.caFile === undefined && HANDSHAKE_REFUSED.test(error.details) && !/\bE[A-Z]{4,}\b/.test(error.details)) {
    const caHint = context.hints?.ca ? ` If it serves TLS, ${context.hints.ca} to its CA file` : ' If it serves TLS, give its CA file';
    return make(error, {
      unreached: 'not-tls',
      detail: `cannot reach the control plane at ${context.controlPlane}: is it running?${caHint}${hint(context.hints?.address)}`,
    });
  }
  return make(error, {
    unreached: 'unreachable',
    detail: `cannot reach the control plane at ${context.controlPlane}: is it running?${hint(context.hints?.address)}`,
  });
}
