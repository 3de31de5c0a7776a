import { Metadata, status, type ServerErrorResponse, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { ServiceInvocationError, type InvocationErrorCode } from '@laneway/sdk';
import type { Logger } from 'pino';
import { LanewayError, type ErrorCode } from '../errors';

/** The one table from our error codes to gRPC statuses. */
const GRPC_STATUS = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  // Over one of the configured limits (limits.ts): the message names the variable and its value.
  LIMIT_EXCEEDED: status.RESOURCE_EXHAUSTED,
} as const satisfies Record<ErrorCode, status>;

/** How a failed invocation surfaces through Invoke. A service that threw is the caller's "unknown". */
const INVOCATION_STATUS = {
  NOT_FOUND: status.NOT_FOUND,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  SERVICE_FAILED: status.UNKNOWN,
  UNAVAILABLE: status.UNAVAILABLE,
} as const satisfies Record<InvocationErrorCode, status>;

// An unpaired UTF-16 surrogate: half of an emoji cut off by a message, or thrown by a service.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// Percent-encoded, 4 KiB of UTF-8 are at most 12 KiB: far below HTTP/2's 64 KiB for a trailer block.
const MAX_MESSAGE_BYTES = 4096;

/**
 * A status message as it can go on the wire. grpc-js sends it percent-encoded (encodeURI) in an
 * HTTP/2 trailer: an unpaired surrogate makes encodeURI throw, and a trailer block past 64 KiB is
 * never delivered; either way the call was never answered. So unpaired surrogates become U+FFFD,
 * and a message of more than 4 KiB (a service's error, a compile error quoting a huge identifier)
 * is cut there, saying how long it was.
 */
export function wireMessage(text: string): string {
  const formed = text.replace(LONE_SURROGATE, '\ufffd');
  if (Buffer.byteLength(formed, 'utf8') <= MAX_MESSAGE_BYTES) return formed;
  // Cutting the bytes may split a character: its remains decode to one U+FFFD, dropped here.
  const head = Buffer.from(formed, 'utf8')
    .subarray(0, MAX_MESSAGE_BYTES)
    .toString('utf8')
    .replace(/\ufffd$/, '');
  return `${head}... (cut: the message has ${formed.length} characters)`;
}

export function grpcStatusOf(err: LanewayError): status {
  return GRPC_STATUS[err.code];
}

/**
 * Turns anything thrown by a handler into a gRPC error. Known errors keep their message; anything
 * else is logged with its stack and reaches the client as INTERNAL with no detail.
 */
export function toGrpcError(err: unknown, log: Logger, method: string): Partial<ServerErrorResponse> {
  if (err instanceof LanewayError) {
    const metadata = new Metadata();
    metadata.set('laneway-error-code', err.code);
    return { code: GRPC_STATUS[err.code], details: wireMessage(err.message), metadata };
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
