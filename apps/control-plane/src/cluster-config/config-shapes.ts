import { InvalidArgumentError } from '../errors';
import type { ResourceKind } from '../store';

/**
 * The fields laneway.yaml takes per resource kind, in the order an export writes them. A leaf's value
 * is its default and gives its type; MAP marks a string-to-string map; a nested object is one of a
 * kind's alternatives (e.g. `postgres`) and appears only when given.
 */
export const MAP = Symbol('map');
type Leaf = string | number | boolean | typeof MAP;
export interface Shape {
  readonly [field: string]: Leaf | Shape;
}

const SQL: Shape = {
  host: '',
  port: 0,
  database: '',
  user: '',
  password: '',
  url: '',
  tlsMode: '',
  caPem: '',
  poolSize: 0,
  statementTimeoutMs: 0,
  connectTimeoutMs: 0,
};

export const SHAPES: Readonly<Record<ResourceKind, Shape>> = {
  security: {
    apiKey: { header: '', key: '', keySha256: '' },
    basicAuth: { username: '', password: '', salt: '', hash: '', cost: 0 },
    jwt: { hs256Secret: '', publicKeyPem: '', issuer: '', audience: '' },
  },
  connection: {
    postgres: SQL,
    mysql: SQL,
    rest: {
      baseUrl: '',
      headers: MAP,
      timeoutMs: 0,
      retries: 0,
      caPem: '',
      basic: { username: '', password: '' },
      bearer: { token: '' },
      apiKey: { header: '', key: '' },
    },
    redis: { url: '', password: '', keyPrefix: '', caPem: '' },
    amqp: { url: '', password: '', confirm: false, caPem: '' },
  },
  channel: { method: '', path: '', service: '', security: '', timeoutMs: 0, async: false, rateLimitPerSecond: 0 },
  schedule: { service: '', inputJson: '', intervalMs: 0, cron: '', timezone: '', overlap: 'SKIP', paused: false },
};

/** laneway.yaml's section of each kind, in the order a push applies them (definitions before their users). */
export const SECTIONS: readonly { kind: ResourceKind; section: string }[] = [
  { kind: 'security', section: 'security' },
  { kind: 'connection', section: 'connections' },
  { kind: 'channel', section: 'channels' },
  { kind: 'schedule', section: 'schedules' },
];

function isShape(value: Leaf | Shape): value is Shape {
  return typeof value === 'object';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

/**
 * Reads `value` (parsed YAML) against `shape`: refuses unknown fields and wrong types, naming the
 * field by its YAML path (`where`), and fills left-out scalar fields with their defaults. Nested
 * alternatives stay absent unless given.
 */
export function readShape(value: unknown, shape: Shape, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(where, `${where} must be a mapping of fields, not ${typeName(value)}`);
  }
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in shape)) {
      throw new InvalidArgumentError(`${where}.${key}`, `${where}.${key} is not a field here; the fields are ${Object.keys(shape).join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, expected] of Object.entries(shape)) {
    const field = `${where}.${key}`;
    const v = given[key];
    if (isShape(expected)) {
      if (v !== undefined && v !== null) out[key] = readShape(v, expected, field);
    } else if (expected === MAP) {
      if (v === undefined || v === null) {
        out[key] = {};
      } else if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
        throw new InvalidArgumentError(field, `${field} must be a mapping of names to strings`);
      } else {
        out[key] = { ...(v as Record<string, string>) };
      }
    } else if (v === undefined || v === null) {
      out[key] = expected;
    } else if (typeof v !== typeof expected) {
      throw new InvalidArgumentError(field, `${field} must be a ${typeof expected}, not ${typeName(v)} (${JSON.stringify(v)})`);
    } else {
      out[key] = v;
    }
  }
  return out;
}

/**
 * The stored spec as laneway.yaml writes it: the shape's fields in the shape's order, scalars at their
 * default left out, fields the shape does not have (answers' `passwordSet` and the like) dropped.
 */
export function compactShape(value: Record<string, unknown>, shape: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, expected] of Object.entries(shape)) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (isShape(expected)) {
      out[key] = compactShape(v as Record<string, unknown>, expected);
    } else if (expected === MAP) {
      const entries = Object.entries(v as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (entries.length) out[key] = Object.fromEntries(entries);
    } else if (v !== expected) {
      out[key] = v;
    }
  }
  return out;
}
