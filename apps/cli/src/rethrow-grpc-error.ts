import { ApiError, toApiError, type CallContext } from '@laneway/api-client';
import { CliError } from './errors';

export { isServiceError, statusName } from '@laneway/api-client';

/** The settings the CLI's "cannot reach the control plane" errors point at. */
export const CLI_HINTS = { address: 'set LANEWAY_CONTROL_PLANE', ca: 'set LANEWAY_TLS_CA' } as const;

/**
 * How the CLI presents a failed API call: the ApiError's `<STATUS_NAME>: <detail>` as a CliError,
 * whose code (`NOT_FOUND`) is what `--json` reports. Anything else is returned unchanged.
 */
export function cliErrorOf(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  return new CliError(error.message, { cause: error.cause ?? error, code: error.status, detail: error.detail });
}

/** A grpc-js failure as the CLI reports it (libs/api-client maps it; the CLI adds its hints). */
export function grpcErrorToCliError(error: unknown, context: Omit<CallContext, 'hints'>): unknown {
  return cliErrorOf(toApiError(error, { ...context, hints: CLI_HINTS }));
}

/** Throws what `grpcErrorToCliError` makes of `error`. */
export function rethrowGrpcError(error: unknown, context: Omit<CallContext, 'hints'>): never {
  throw grpcErrorToCliError(error, context);
}
