import type { AmqpConnection, Connection, ConnectionSpec, RedisConnection, RestConnection, SqlConnection } from '@laneway/proto';
import { X509Certificate } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError } from '../errors';
import type { ResourceReader, ResourceRecord } from '../store';

/**
 * A connection as stored and pushed: the wire's ConnectionSpec with one kind set, its `url` (for SQL)
 * already parsed into the fields, and its secrets in their fields (sealed at rest by the resource
 * catalog, opened only for the sync stream). Answers blank every secret and say only that it is set.
 */
export type ConnectionSpecRecord = ConnectionSpec;

export type ConnectionKind = 'postgres' | 'mysql' | 'rest' | 'redis' | 'amqp';
export const CONNECTION_KINDS: readonly ConnectionKind[] = ['postgres', 'mysql', 'rest', 'redis', 'amqp'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOST = /^[A-Za-z0-9._:[\]-]{1,253}$/;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const TLS_MODES = new Set(['', 'disable', 'require', 'verify-full']);
const MAX_TIMEOUT_MS = 3600_000;
const MAX_POOL = 1000;
const MAX_RETRIES = 10;
const MAX_TEXT = 1024;

/** The kind of a stored or requested spec, or undefined when none is set. */
export function kindOf(spec: ConnectionSpec | undefined): ConnectionKind | undefined {
  return spec ? CONNECTION_KINDS.find((k) => spec[k] !== undefined) : undefined;
}

/**
 * Checks a create's or update's settings and returns the spec to store. Every refusal names the
 * field and its value (never a secret's value). On update, a secret left empty keeps the one
 * `previous` holds, when the kind is the same.
 */
export function connectionSpecOf(name: string, spec: ConnectionSpec | undefined, previous?: ConnectionSpecRecord): ConnectionSpecRecord {
  if (!NAME.test(name)) {
    throw new InvalidArgumentError('name', `connection name ${quote(name)} is invalid: use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit`);
  }
  const kinds = spec ? CONNECTION_KINDS.filter((k) => spec[k] !== undefined) : [];
  if (kinds.length !== 1) {
    throw new InvalidArgumentError('spec', `give exactly one of spec.postgres, spec.mysql, spec.rest, spec.redis or spec.amqp (got ${kinds.length ? kinds.join(', ') : 'none'})`);
  }
  const kind = kinds[0]!;
  const before = previous && kindOf(previous) === kind ? previous : undefined;
  switch (kind) {
    case 'postgres':
    case 'mysql':
      return { [kind]: sqlSpecOf(kind, spec![kind]!, before?.[kind]) };
    case 'rest':
      return { rest: restSpecOf(spec!.rest!, before?.rest) };
    case 'redis':
      return { redis: redisSpecOf(spec!.redis!, before?.redis) };
    case 'amqp':
      return { amqp: amqpSpecOf(spec!.amqp!, before?.amqp) };
  }
}

function sqlSpecOf(kind: 'postgres' | 'mysql', given: SqlConnection, previous: SqlConnection | undefined): SqlConnection {
  const field = (f: string) => `spec.${kind}.${f}`;
  let { host, port, database, user, password, tlsMode } = given;
  if (given.url) {
    let url: URL;
    try {
      url = new URL(given.url);
    } catch {
      throw new InvalidArgumentError(field('url'), `${field('url')} is not a URL (e.g. ${kind}://user:password@host:port/database)`);
    }
    const schemes = kind === 'postgres' ? ['postgres:', 'postgresql:'] : ['mysql:', 'mariadb:'];
    if (!schemes.includes(url.protocol)) {
      throw new InvalidArgumentError(field('url'), `${field('url')} has scheme ${quote(url.protocol)}; use ${schemes.map((s) => `${s}//`).join(' or ')}`);
    }
    host ||= url.hostname.replace(/^\[|\]$/g, '');
    port ||= url.port ? Number(url.port) : 0;
    database ||= decodeURIComponent(url.pathname.replace(/^\//, ''));
    user ||= decodeURIComponent(url.username);
    password ||= decodeURIComponent(url.password);
    tlsMode ||= tlsModeOfUrl(url, field('url'));
  }
  if (!HOST.test(host)) throw new InvalidArgumentError(field('host'), `${field('host')} ${quote(host)} is not a host name or address`);
  checkRange(field('port'), port, 65_535);
  if (!database || database.length > 128) throw new InvalidArgumentError(field('database'), `${field('database')} ${quote(database)} must be 1-128 characters`);
  if (!user || user.length > 128) throw new InvalidArgumentError(field('user'), `${field('user')} ${quote(user)} must be 1-128 characters`);
  if (!TLS_MODES.has(tlsMode)) throw new InvalidArgumentError(field('tls_mode'), `${field('tls_mode')} ${quote(tlsMode)} is not one of disable, require, verify-full`);
  checkCa(field('ca_pem'), given.caPem);
  checkRange(field('pool_size'), given.poolSize, MAX_POOL);
  checkRange(field('statement_timeout_ms'), given.statementTimeoutMs, MAX_TIMEOUT_MS);
  checkRange(field('connect_timeout_ms'), given.connectTimeoutMs, MAX_TIMEOUT_MS);
  return {
    host,
    port,
    database,
    user,
    password: password || previous?.password || '',
    passwordSet: false,
    url: '',
    tlsMode: tlsMode || 'disable',
    caPem: given.caPem,
    poolSize: given.poolSize,
    statementTimeoutMs: given.statementTimeoutMs,
    connectTimeoutMs: given.connectTimeoutMs,
  };
}

function tlsModeOfUrl(url: URL, field: string): string {
  const mode = url.searchParams.get('sslmode') ?? url.searchParams.get('ssl-mode');
  if (mode === null) return '';
  const known: Record<string, string> = { disable: 'disable', require: 'require', 'verify-full': 'verify-full', required: 'require', verify_identity: 'verify-full' };
  const tls = known[mode.toLowerCase()];
  if (!tls) throw new InvalidArgumentError(field, `${field} has sslmode ${quote(mode)}; use disable, require or verify-full`);
  return tls;
}

function restSpecOf(given: RestConnection, previous: RestConnection | undefined): RestConnection {
  const url = serviceUrl('spec.rest.base_url', given.baseUrl, ['http:', 'https:']);
  if (url.username || url.password) {
    throw new InvalidArgumentError('spec.rest.base_url', 'spec.rest.base_url holds credentials: give them in spec.rest.basic, bearer or api_key instead');
  }
  for (const [name, value] of Object.entries(given.headers)) {
    if (!HEADER.test(name)) throw new InvalidArgumentError('spec.rest.headers', `spec.rest.headers has ${quote(name)}, which is not an HTTP header name`);
    if (/[\r\n\0]/.test(value) || value.length > MAX_TEXT) throw new InvalidArgumentError(`spec.rest.headers.${name}`, `spec.rest.headers.${name} holds a line break or is over ${MAX_TEXT} characters`);
  }
  checkRange('spec.rest.timeout_ms', given.timeoutMs, MAX_TIMEOUT_MS);
  checkRange('spec.rest.retries', given.retries, MAX_RETRIES);
  checkCa('spec.rest.ca_pem', given.caPem);
  const out: RestConnection = { baseUrl: given.baseUrl.replace(/\/+$/, ''), headers: { ...given.headers }, timeoutMs: given.timeoutMs, retries: given.retries, caPem: given.caPem };
  if (given.basic) {
    const { username } = given.basic;
    if (!username || username.includes(':')) throw new InvalidArgumentError('spec.rest.basic.username', `spec.rest.basic.username ${quote(username)} must be non-empty and hold no ':'`);
    const password = given.basic.password || previous?.basic?.password || '';
    if (!password) throw new InvalidArgumentError('spec.rest.basic.password', 'spec.rest.basic.password is empty');
    out.basic = { username, password, passwordSet: false };
  } else if (given.bearer) {
    const token = given.bearer.token || previous?.bearer?.token || '';
    if (!token || /[\r\n\s]/.test(token)) throw new InvalidArgumentError('spec.rest.bearer.token', 'spec.rest.bearer.token is empty or holds white space');
    out.bearer = { token, tokenSet: false };
  } else if (given.apiKey) {
    const { header } = given.apiKey;
    if (!HEADER.test(header)) throw new InvalidArgumentError('spec.rest.api_key.header', `spec.rest.api_key.header ${quote(header)} is not an HTTP header name`);
    const key = given.apiKey.key || previous?.apiKey?.key || '';
    if (!key || /[\r\n]/.test(key)) throw new InvalidArgumentError('spec.rest.api_key.key', 'spec.rest.api_key.key is empty or holds a line break');
    out.apiKey = { header: header.toLowerCase(), key, keySet: false };
  }
  return out;
}

function redisSpecOf(given: RedisConnection, previous: RedisConnection | undefined): RedisConnection {
  const url = serviceUrl('spec.redis.url', given.url, ['redis:', 'rediss:']);
  if (url.password) throw new InvalidArgumentError('spec.redis.url', 'spec.redis.url holds a password: give it in spec.redis.password instead');
  if (given.keyPrefix.length > 128) throw new InvalidArgumentError('spec.redis.key_prefix', `spec.redis.key_prefix has ${given.keyPrefix.length} characters; use at most 128`);
  checkCa('spec.redis.ca_pem', given.caPem);
  return { url: given.url, password: given.password || previous?.password || '', passwordSet: false, keyPrefix: given.keyPrefix, caPem: given.caPem };
}

function amqpSpecOf(given: AmqpConnection, previous: AmqpConnection | undefined): AmqpConnection {
  const url = serviceUrl('spec.amqp.url', given.url, ['amqp:', 'amqps:']);
  if (url.password) throw new InvalidArgumentError('spec.amqp.url', 'spec.amqp.url holds a password: give it in spec.amqp.password instead');
  checkCa('spec.amqp.ca_pem', given.caPem);
  return { url: given.url, password: given.password || previous?.password || '', passwordSet: false, confirm: given.confirm, caPem: given.caPem };
}

function serviceUrl(field: string, text: string, schemes: string[]): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(field, `${field} is not a URL (e.g. ${schemes[0]}//host:port)`);
  }
  if (!schemes.includes(url.protocol)) throw new InvalidArgumentError(field, `${field} has scheme ${quote(url.protocol)}; use ${schemes.map((s) => `${s}//`).join(' or ')}`);
  if (!url.hostname) throw new InvalidArgumentError(field, `${field} names no host`);
  return url;
}

function checkRange(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new InvalidArgumentError(field, `${field} is ${value}; use 0 (the default) to ${max}`);
}

function checkCa(field: string, pem: string): void {
  if (!pem) return;
  try {
    new X509Certificate(pem);
  } catch {
    throw new InvalidArgumentError(field, `${field} is not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
}

/** A connection as answers show it: every secret blanked, only whether it is set. */
export function connectionOf(record: ResourceRecord<ConnectionSpecRecord>, usedBy: string[] = []): Connection {
  const spec = record.spec;
  const shown: ConnectionSpec = {};
  const sql = (s: SqlConnection): SqlConnection => ({ ...s, password: '', passwordSet: Boolean(s.password), url: '' });
  if (spec.postgres) shown.postgres = sql(spec.postgres);
  if (spec.mysql) shown.mysql = sql(spec.mysql);
  if (spec.rest) {
    const r = spec.rest;
    shown.rest = {
      ...r,
      basic: r.basic && { username: r.basic.username, password: '', passwordSet: Boolean(r.basic.password) },
      bearer: r.bearer && { token: '', tokenSet: Boolean(r.bearer.token) },
      apiKey: r.apiKey && { header: r.apiKey.header, key: '', keySet: Boolean(r.apiKey.key) },
    };
  }
  if (spec.redis) shown.redis = { ...spec.redis, password: '', passwordSet: Boolean(spec.redis.password) };
  if (spec.amqp) shown.amqp = { ...spec.amqp, password: '', passwordSet: Boolean(spec.amqp.password) };
  return { name: record.name, spec: shown, revision: record.revision, updatedAt: record.updatedAt, usedBy };
}

/** Refuses to delete a connection while a deployed service declares it. */
export async function checkConnectionUnused(name: string, cluster: string, reader: ResourceReader): Promise<void> {
  const users = await reader.servicesUsingConnection(name);
  if (users.length) {
    throw new FailedPreconditionError(
      `connection '${name}' is declared by service(s) ${users.map((u) => `'${u}'`).join(', ')} in cluster '${cluster}': deploy them without it, or undeploy them first`,
      { connection: name, services: users },
    );
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
