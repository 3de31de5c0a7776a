import type { ConnectionSpec } from '@laneway/proto';
import { ConnectionError, type ConnectionErrorCode } from './connection-error';

export const CONNECTION_KINDS = ['postgres', 'mysql', 'rest', 'redis', 'amqp'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

/** What error messages may say about a connection, and what they must not. */
export interface ConnectionInfo {
  readonly name: string;
  readonly kind: ConnectionKind;
  /** Where it points, without credentials. */
  readonly target: string;
  /** Every secret value of the spec, in the forms a driver might echo, longest first. */
  readonly secrets: readonly string[];
}

export function kindOf(spec: ConnectionSpec): ConnectionKind | undefined {
  return CONNECTION_KINDS.find((kind) => spec[kind] !== undefined);
}

export function describeConnection(name: string, kind: ConnectionKind, spec: ConnectionSpec): ConnectionInfo {
  const raw: string[] = [];
  let target: string;
  switch (kind) {
    case 'postgres':
    case 'mysql': {
      const sql = spec[kind]!;
      raw.push(sql.password, sql.url);
      const port = sql.port || (kind === 'postgres' ? 5432 : 3306);
      target = `${sql.host || 'localhost'}:${port}/${sql.database}`;
      break;
    }
    case 'rest': {
      const rest = spec.rest!;
      if (rest.basic) {
        raw.push(rest.basic.password, Buffer.from(`${rest.basic.username}:${rest.basic.password}`).toString('base64'));
      }
      if (rest.bearer) raw.push(rest.bearer.token);
      if (rest.apiKey) raw.push(rest.apiKey.key);
      target = withoutCredentials(rest.baseUrl);
      break;
    }
    case 'redis':
      raw.push(spec.redis!.password);
      target = withoutCredentials(spec.redis!.url);
      break;
    case 'amqp':
      raw.push(spec.amqp!.password);
      target = withoutCredentials(spec.amqp!.url);
      break;
  }
  const secrets = new Set<string>();
  for (const secret of raw) {
    if (!secret) continue;
    secrets.add(secret);
    secrets.add(encodeURIComponent(secret));
  }
  return { name, kind, target, secrets: [...secrets].sort((a, b) => b.length - a.length) };
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString();
  } catch {
    // Not a URL: say nothing rather than echo a string that might hold a secret.
    return '(invalid URL)';
  }
}

/** Replaces every secret in `text` with `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

/** Scrubs a driver error in place (message and stack), so a `cause` chain leaks nothing either. */
export function scrubError(err: unknown, secrets: readonly string[]): void {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    e.message = scrub(e.message, secrets);
    if (e.stack) e.stack = scrub(e.stack, secrets);
  }
}

export function prefix(info: ConnectionInfo): string {
  return `connection '${info.name}' (${info.kind} ${info.target})`;
}

/** Wraps a driver error as a ConnectionError naming the connection, its secrets scrubbed. */
export function connectionFailure(info: ConnectionInfo, err: unknown, code?: ConnectionErrorCode): ConnectionError {
  if (err instanceof ConnectionError) return err;
  scrubError(err, info.secrets);
  const detail = scrub(describeError(err), info.secrets);
  const resolved = code ?? classify(err);
  const what = HINTS[resolved];
  return new ConnectionError(`${prefix(info)}: ${what}${what ? ': ' : ''}${detail}`, {
    code: resolved,
    connection: info.name,
    kind: info.kind,
    target: info.target,
    cause: err,
  });
}

/** Node reports a refused dual-stack connect (localhost: ::1 and 127.0.0.1) as an AggregateError without a message. */
function describeError(err: unknown): string {
  if (err instanceof AggregateError && !err.message) {
    return err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ') || err.name;
  }
  if (err instanceof Error) return err.message || String((err as { code?: unknown }).code ?? err.name);
  return String(err);
}

const HINTS: Record<ConnectionErrorCode, string> = {
  NOT_DEFINED: '',
  WRONG_KIND: '',
  REFUSED: 'connection refused (is the server running and the port right?)',
  UNREACHABLE: 'host unreachable',
  AUTH_FAILED: 'authentication failed (check the user and password of the connection)',
  TLS: 'TLS handshake failed (check tls_mode and ca_pem)',
  TIMEOUT: 'timed out',
  ABORTED: 'cancelled',
  CLOSED: 'closed',
  FAILED: '',
};

const AUTH_CODES = new Set(['28P01', '28000', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_NOT_SUPPORTED_AUTH_MODE']);
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_|HOSTNAME_MISMATCH)/;

function classify(err: unknown): ConnectionErrorCode {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? '');
    const message = e.message;
    if (code === 'ECONNREFUSED') return 'REFUSED';
    if (code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') return 'UNREACHABLE';
    if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || /time(d)? ?out|timeout/i.test(message)) return 'TIMEOUT';
    if (AUTH_CODES.has(code) || /password authentication failed|access denied|ACCESS[-_]REFUSED|WRONGPASS|NOAUTH|invalid password/i.test(message)) {
      return 'AUTH_FAILED';
    }
    if (TLS_CODES.test(code) || /certificate|self[- ]signed|SSL|TLS|secure connection/.test(message)) return 'TLS';
  }
  return 'FAILED';
}
