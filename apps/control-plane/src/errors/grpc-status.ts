import { status } from '@grpc/grpc-js';
import type { ErrorCode, LanewayError } from './index';

/** The one table from our error codes to gRPC statuses (the unary API and the sync stream both answer with it). */
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

// An unpaired UTF-16 surrogate: half of an emoji cut off by a message, or thrown by a service.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// Percent-encoded, 4 KiB of UTF-8 are at most 12 KiB: far below HTTP/2's 64 KiB for a trailer block.
const MAX_MESSAGE_BYTES = 4096;

export function grpcStatusOf(err: LanewayError): status {
  return GRPC_STATUS[err.code];
}

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
