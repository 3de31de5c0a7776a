/**
 * Errors the control plane raises on purpose. Each has a stable code, mapped to a gRPC status in one
 * table (errors/grpc-status.ts) that the API and the sync stream share. Messages name the field and the
 * value, and say what to do.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'DEADLINE_EXCEEDED'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'LIMIT_EXCEEDED';

export class LanewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends LanewayError {
  constructor(
    readonly field: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super('INVALID_ARGUMENT', message, { field, ...details });
  }
}

export class NotFoundError extends LanewayError {
  constructor(
    readonly kind: 'cluster' | 'service' | 'server' | 'job' | 'channel' | 'security' | 'connection' | 'schedule' | 'user' | 'token',
    readonly key: string,
    message: string,
  ) {
    super('NOT_FOUND', message, { kind, key });
  }
}

export class AlreadyExistsError extends LanewayError {
  constructor(
    readonly kind: 'cluster' | 'service' | 'server' | 'channel' | 'security' | 'connection' | 'schedule' | 'user',
    readonly key: string,
    message: string,
  ) {
    super('ALREADY_EXISTS', message, { kind, key });
  }
}

export class DeadlineExceededError extends LanewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DEADLINE_EXCEEDED', message, details);
  }
}

export class UnavailableError extends LanewayError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, details, options);
  }
}

export class UnauthenticatedError extends LanewayError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

export class PermissionDeniedError extends LanewayError {
  constructor(message: string) {
    super('PERMISSION_DENIED', message);
  }
}

export class FailedPreconditionError extends LanewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

/**
 * A request over one of the configured limits (see limits.ts): `limit` names its environment variable,
 * `max` its value and `actual` what the request carried. The API answers RESOURCE_EXHAUSTED.
 */
export class LimitExceededError extends LanewayError {
  constructor(
    readonly field: string,
    readonly limit: string,
    readonly max: number,
    readonly actual: number,
    message: string,
  ) {
    super('LIMIT_EXCEEDED', message, { field, limit, max, actual });
  }
}

// C0 controls (NUL included), DEL and C1 controls.
// eslint-disable-next-line no-control-regex -- finding them is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;
const SHOWN_CHARACTERS = 64;

/** Where the first control character (C0 with NUL, DEL, C1) of `value` is, or -1: no name or path may hold one. */
export function controlCharacterAt(value: string): number {
  return value.search(CONTROL_CHARACTERS);
}

/**
 * A request value as error messages show it: quoted, control characters escaped (`\u0000`), and a
 * long value cut to its first 64 characters (never inside a surrogate pair) followed by its length.
 */
export function shownValue(value: string): string {
  let head = value;
  if (value.length > SHOWN_CHARACTERS) {
    const cut = /[\ud800-\udbff]/.test(value.charAt(SHOWN_CHARACTERS - 1))
      ? SHOWN_CHARACTERS - 1
      : SHOWN_CHARACTERS;
    head = value.slice(0, cut);
  }
  const escaped = head.replace(
    CONTROL_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return value.length > SHOWN_CHARACTERS ? `'${escaped}...' (${value.length} characters)` : `'${escaped}'`;
}

/** "FIELD 'VALUE' is N characters", for a message about a value's length (a long one shows its length once). */
export function describeLength(field: string, value: string): string {
  const shown = shownValue(value);
  return value.length > SHOWN_CHARACTERS
    ? `${field} ${shown} is too long`
    : `${field} ${shown} is ${value.length} characters`;
}
