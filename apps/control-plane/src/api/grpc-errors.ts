import { Metadata, status, type ServerErrorResponse, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { ServiceInvocationError, type InvocationErrorCode } from '@laneway/sdk';
import type { Logger } from 'pino';
import { LanewayError } from '../errors';
import { grpcStatusOf, wireMessage } from '../errors/grpc-status';

/** How a failed invocation surfaces through Invoke. A service that threw is the caller's "unknown". */
const INVOCATION_STATUS = {
  NOT_FOUND: status.NOT_FOUND,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  SERVICE_FAILED: status.UNKNOWN,
  UNAVAILABLE: status.UNAVAILABLE,
} as const satisfies Record<InvocationErrorCode, status>;

/**
 * Turns anything thrown by a handler into a gRPC error. Known errors keep their message; anything
 * else is logged with its stack and reaches the client as INTERNAL with no detail.
 */
export function toGrpcError(err: unknown, log: Logger, method: string): Partial<ServerErrorResponse> {
  if (err instanceof LanewayError) {
    const metadata = new Metadata();
    metadata.set('laneway-error-code', err.code);
    return { code: grpcStatusOf(err), details: wireMessage(err.message), metadata };
  }
  if (err instanceof ServiceInvocationError) {
    const metadata = new Metadata();
    metadata.set('laneway-error-code', err.code);
    return { code: INVOCATION_STATUS[err.code], details: wireMessage(err.message), metadata };
  }
  log.error({ err, method }, 'unexpected error in an API call');
  return { code: status.INTERNAL, details: `internal error in ${method}; see the control-plane log` };
}

/**
 * Adapts an async function to a grpc-js unary handler: checks the caller's token first (`authorize`),
 * then maps errors as above. Should grpc-js throw while sending the answer, that is logged: it must not
 * become an unhandled rejection, which would end the process.
 */
export function unary<TReq, TRes>(
  method: string,
  log: Logger,
  authorize: (metadata: Metadata, method: string) => Promise<void>,
  fn: (request: TReq, call: ServerUnaryCall<TReq, TRes>) => Promise<TRes>,
): (call: ServerUnaryCall<TReq, TRes>, callback: sendUnaryData<TRes>) => void {
  return (call, callback) => {
    authorize(call.metadata, method)
      .then(() => fn(call.request, call))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(toGrpcError(err, log, method)),
      )
      .catch((err: unknown) => log.error({ err, method }, 'could not send the answer of an API call'));
  };
}
