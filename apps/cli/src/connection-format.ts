/**
 * What the connection commands print, as pure functions of the responses (no I/O, no gRPC), like
 * format.ts. Answers never hold a password, token or key (the control plane blanks them); these
 * functions still print only the `*_set` flags and never a secret field, whatever they are given.
 */
import type {
  Connection,
  ConnectionChangeResponse,
  ConnectionSpec,
  ConnectionTestResult,
  ListConnectionsResponse,
  SqlConnection,
  TestConnectionResponse,
} from '@laneway/proto';
import { formatServerResults, formatTable } from './format';

export type ConnectionKind = 'postgres' | 'mysql' | 'rest' | 'redis' | 'amqp';
export const CONNECTION_KINDS: readonly ConnectionKind[] = Object.freeze([
  'postgres',
  'mysql',
  'rest',
  'redis',
  'amqp',
]);

const DEFAULT_SQL_PORT: Readonly<Record<'postgres' | 'mysql', number>> = { postgres: 5432, mysql: 3306 };

/** The kind of a spec (the flag that made it: `--postgres` is `postgres`), or `unknown`. */
export function connectionKind(spec: ConnectionSpec | undefined): ConnectionKind | 'unknown' {
  return CONNECTION_KINDS.find((kind) => spec?.[kind] !== undefined) ?? 'unknown';
}

function setOrNot(set: boolean): string {
  return set ? 'set' : 'not set';
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** `5000ms`, or what 0 means for that field. */
function milliseconds(ms: number, zero: string): string {
  return ms > 0 ? `${ms}ms` : zero;
}

/** A URL as shown: any password in it replaced (answers hold none; this is a second guard). */
function shownUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = '***';
    return url.toString();
  } catch {
    return text;
  }
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `app@db.local:5432/billing` (the default port when 0). */
function sqlTarget(kind: 'postgres' | 'mysql', sql: SqlConnection): string {
  return `${sql.user}@${hostPort(sql.host, sql.port || DEFAULT_SQL_PORT[kind])}/${sql.database}`;
}

/** Where a connection goes, in one cell: `app@db.local:5432/billing`, a base URL, a Redis URL. */
export function connectionTarget(spec: ConnectionSpec | undefined): string {
  if (spec?.postgres) return sqlTarget('postgres', spec.postgres);
  if (spec?.mysql) return sqlTarget('mysql', spec.mysql);
  if (spec?.rest) return shownUrl(spec.rest.baseUrl);
  if (spec?.redis) return shownUrl(spec.redis.url);
  if (spec?.amqp) return shownUrl(spec.amqp.url);
  return '-';
}

function usedBy(connection: Pick<Connection, 'usedBy'>): string {
  return connection.usedBy.length > 0 ? connection.usedBy.join(', ') : '-';
}

export function formatConnections(response: ListConnectionsResponse, cluster: string): string {
  if (response.connections.length === 0) {
    return `no connections in cluster '${cluster}' (revision ${response.revision})`;
  }
  return formatTable([
    ['NAME', 'KIND', 'TARGET', 'USED BY', 'REVISION'],
    ...response.connections.map((c) => [
      c.name,
      connectionKind(c.spec),
      connectionTarget(c.spec),
      usedBy(c),
      String(c.revision),
    ]),
  ]);
}

function caRow(caPem: string): string[] {
  return ['ca', caPem ? 'PEM (--json shows it)' : 'none (the system CAs)'];
}

function sqlRows(kind: 'postgres' | 'mysql', sql: SqlConnection): string[][] {
  return [
    ['host', sql.host],
    ['port', sql.port > 0 ? String(sql.port) : `default (${DEFAULT_SQL_PORT[kind]})`],
    ['database', sql.database],
    ['user', sql.user],
    ['password', setOrNot(sql.passwordSet)],
    ['tls mode', sql.tlsMode || 'disable'],
    caRow(sql.caPem),
    ['pool size', sql.poolSize > 0 ? String(sql.poolSize) : 'default (10)'],
    ['statement timeout', milliseconds(sql.statementTimeoutMs, 'none')],
    ['connect timeout', milliseconds(sql.connectTimeoutMs, 'default (10000ms)')],
  ];
}

function specRows(spec: ConnectionSpec | undefined): string[][] {
  if (spec?.postgres) return sqlRows('postgres', spec.postgres);
  if (spec?.mysql) return sqlRows('mysql', spec.mysql);
  if (spec?.rest) {
    const rest = spec.rest;
    const headers = Object.entries(rest.headers).sort(([a], [b]) => a.localeCompare(b));
    const rows: string[][] = [['base url', shownUrl(rest.baseUrl)]];
    if (headers.length === 0) rows.push(['headers', 'none']);
    for (const [name, value] of headers) rows.push(['header', `${name}: ${value}`]);
    rows.push(
      ['timeout', milliseconds(rest.timeoutMs, 'default (10000ms)')],
      ['retries', String(rest.retries)],
    );
    if (rest.basic) {
      rows.push(
        ['auth', `basic, user ${rest.basic.username}`],
        ['password', setOrNot(rest.basic.passwordSet)],
      );
    } else if (rest.bearer) {
      rows.push(['auth', 'bearer token'], ['token', setOrNot(rest.bearer.tokenSet)]);
    } else if (rest.apiKey) {
      rows.push(['auth', `api key, header ${rest.apiKey.header}`], ['key', setOrNot(rest.apiKey.keySet)]);
    } else {
      rows.push(['auth', 'none']);
    }
    rows.push(caRow(rest.caPem));
    return rows;
  }
  if (spec?.redis) {
    const redis = spec.redis;
    return [
      ['url', shownUrl(redis.url)],
      ['key prefix', redis.keyPrefix || 'none'],
      ['password', setOrNot(redis.passwordSet)],
      caRow(redis.caPem),
    ];
  }
  if (spec?.amqp) {
    const amqp = spec.amqp;
    return [
      ['url', shownUrl(amqp.url)],
      ['confirm', yesNo(amqp.confirm)],
      ['password', setOrNot(amqp.passwordSet)],
      caRow(amqp.caPem),
    ];
  }
  return [];
}

/** One connection, field by field; secrets only as `set` or `not set`. */
export function formatConnection(connection: Connection): string {
  return formatTable([
    ['connection', connection.name],
    ['kind', connectionKind(connection.spec)],
    ...specRows(connection.spec),
    ['used by', usedBy(connection)],
    ['revision', String(connection.revision)],
    ['updated', connection.updatedAt || '-'],
  ]);
}

/**
 * `created connection NAME (postgres app@db:5432/billing): revision N` (or updated, deleted without
 * the target), then what each server did.
 */
export function formatConnectionChange(
  verb: 'created' | 'updated' | 'deleted',
  name: string,
  response: ConnectionChangeResponse,
  options: { waited: boolean },
): string {
  const connection = response.connection;
  const what = connection ? ` (${connectionKind(connection.spec)} ${connectionTarget(connection.spec)})` : '';
  return [
    `${verb} connection ${name}${what}: revision ${response.revision}`,
    formatServerResults(response.servers, options.waited),
  ].join('\n');
}

/** One line per server: `srv-a  ok      12ms`, `srv-b  failed  <why>`. */
export function formatConnectionTest(
  response: TestConnectionResponse,
  name: string,
  cluster: string,
): string {
  if (response.servers.length === 0) {
    return `no servers connected in cluster '${cluster}': connection ${name} was not tested`;
  }
  return formatTable(
    response.servers.map((s) =>
      s.ok ? [s.server, 'ok', `${s.latencyMs}ms`] : [s.server, 'failed', s.error || 'no reason given'],
    ),
  );
}

/** The error line when some servers could not open the connection, else undefined. */
export function formatConnectionTestFailure(
  name: string,
  servers: readonly ConnectionTestResult[],
): string | undefined {
  const failed = servers.filter((s) => !s.ok);
  if (failed.length === 0) return undefined;
  return `connection ${name} failed on ${failed.length} of ${servers.length} server${servers.length === 1 ? '' : 's'} (${failed.map((s) => s.server).join(', ')})`;
}
