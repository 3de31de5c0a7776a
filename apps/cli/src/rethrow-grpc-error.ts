import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { CliError } from './errors';

export interface GrpcErrorContext {
  /** The address the call went to, for the "cannot reach" hint. */
  readonly controlPlane: string;
  /**
   * Whether the channel had a connection when the call failed. False means the error came from the
   * client side (refused, unresolvable, timed out connecting), not from the control plane.
   */
  readonly connected?: boolean;
  /** The CA file the call trusted, when it used TLS. */
  readonly caFile?: string | undefined;
}

// Details grpc-js itself produces when it never got a connection to the server.
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

/**
 * The one place a gRPC failure becomes a user-facing error: `<STATUS_NAME>: <details>`, with a hint
 * when the control plane could not be reached at all. Anything that is not a ServiceError is returned
 * unchanged.
 */
export function grpcErrorToCliError(error: unknown, context: GrpcErrorContext): unknown {
  if (!isServiceError(error)) return error;
  const name = statusName(error.code);
  const unreachable =
    context.connected === false
      ? error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED
      : context.connected === undefined &&
        error.code === status.UNAVAILABLE &&
        CONNECTION_FAILURE.test(error.details);
  if (unreachable && context.caFile !== undefined && TLS_FAILURE.test(error.details)) {
    const reason = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(error.details.trim())?.[1]?.trim() ?? error.details;
    return statusError(
      name,
      `TLS connection to the control plane at ${context.controlPlane} failed (${reason}): ` +
        `does ${context.caFile} hold the CA that signed its certificate for this address, and does it serve TLS? (set LANEWAY_TLS_CA)`,
      error,
    );
  }
  if (unreachable && context.caFile === undefined && HANDSHAKE_REFUSED.test(error.details) && !/\bE[A-Z]{4,}\b/.test(error.details)) {
    return statusError(
      name,
      `cannot reach the control plane at ${context.controlPlane}: is it running? If it serves TLS, set LANEWAY_TLS_CA to its CA file (set LANEWAY_CONTROL_PLANE)`,
      error,
    );
  }
  if (unreachable) {
    return statusError(
      name,
      `cannot reach the control plane at ${context.controlPlane}: is it running? (set LANEWAY_CONTROL_PLANE)`,
      error,
    );
  }
  return statusError(name, error.details.trim() || 'no details', error);
}

/** `<STATUS_NAME>: <detail>`, with the status name as the code `--json` reports. */
function statusError(name: string, detail: string, cause: ServiceError): CliError {
  return new CliError(`${name}: ${detail}`, { cause, code: name, detail });
}

/** Throws what `grpcErrorToCliError` makes of `error`. */
export function rethrowGrpcError(error: unknown, context: GrpcErrorContext): never {
  throw grpcErrorToCliError(error, context);
}
