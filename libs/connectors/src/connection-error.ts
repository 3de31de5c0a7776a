/** Why a connection call failed. */
export type ConnectionErrorCode =
  /** No connection of that name on this server. */
  | 'NOT_DEFINED'
  /** The connection exists but is of another kind (e.g. ctx.sql on a rest connection). */
  | 'WRONG_KIND'
  /** Nothing listens at the target (connection refused). */
  | 'REFUSED'
  /** The target's name does not resolve or the network does not reach it. */
  | 'UNREACHABLE'
  /** The target refused the credentials. */
  | 'AUTH_FAILED'
  /** The TLS handshake failed (certificate not trusted, name mismatch, no TLS). */
  | 'TLS'
  /** No answer within the deadline. */
  | 'TIMEOUT'
  /** The caller's signal cancelled the call. */
  | 'ABORTED'
  /** The connectors were closed (server shutting down). */
  | 'CLOSED'
  /** Anything else the driver reported while talking to the target. */
  | 'FAILED';

export interface ConnectionErrorFields {
  code: ConnectionErrorCode;
  connection: string;
  /** postgres, mysql, rest, redis or amqp; absent when the connection is not defined. */
  kind?: string;
  /** Where it points, without credentials (host:port/database, a base URL, …). */
  target?: string;
  cause?: unknown;
}

/**
 * A failure to use an outgoing connection. Its message names the connection, its kind and target,
 * and never contains the connection's secrets (they are scrubbed from driver messages too).
 */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  readonly code: ConnectionErrorCode;
  readonly connection: string;
  readonly kind: string | undefined;
  readonly target: string | undefined;

  constructor(message: string, fields: ConnectionErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = fields.code;
    this.connection = fields.connection;
    this.kind = fields.kind;
    this.target = fields.target;
  }
}
