/**
 * Errors the control plane raises on purpose. Each has a stable code; the API edge maps codes to gRPC
 * statuses in one table (api/grpc-errors.ts). Messages name the field and the value, and say what to do.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'DEADLINE_EXCEEDED'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED';

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
    readonly kind: 'cluster' | 'service' | 'server' | 'job',
    readonly key: string,
    message: string,
  ) {
    super('NOT_FOUND', message, { kind, key });
  }
}

export class AlreadyExistsError extends LanewayError {
  constructor(
    readonly kind: 'cluster' | 'service' | 'server',
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
